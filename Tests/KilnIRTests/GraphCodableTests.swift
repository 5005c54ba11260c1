import Foundation
import KilnCore
import KilnIR
import KilnTestSupport
import Testing

@Suite struct GraphCodableTests {
    /// encode → JSON → decode, as the artifact does it.
    static func roundTrip(_ graph: Graph, prefix: String = "m/") throws -> (Graph, GraphDocument, [String: Tensor]) {
        let (document, constants) = graph.encodedWithoutConstants(symbolPrefix: prefix)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(document)
        let decoded = try JSONDecoder().decode(GraphDocument.self, from: json)
        #expect(decoded == document)
        return (try Graph(document: decoded, constants: constants), document, constants)
    }

    static let graphs: [Graph] = [
        SampleGraphs.convolution(), SampleGraphs.controlFlow(), GraphEditingTests.chain(), Graph(name: "empty"),
    ]

    @Test(arguments: graphs)
    func roundTripIsStructurallyEqual(graph: Graph) throws {
        let (decoded, _, _) = try Self.roundTrip(graph)
        #expect(decoded == graph)
    }

    @Test func everyTensorBecomesASymbol() throws {
        let (_, document, constants) = try Self.roundTrip(SampleGraphs.controlFlow(), prefix: "cpu0/")
        #expect(Set(constants.keys) == Set(document.constantSymbols))
        #expect(document.constantSymbols == [
            "cpu0/branch.else_branch/c", "cpu0/branch.else_branch/id.note",
            "cpu0/branch.then_branch/c", "cpu0/branch.then_branch/id.note",
            "cpu0/fill.value", "cpu0/shape",
        ])
        let json = String(decoding: try JSONEncoder().encode(document), as: UTF8.self)
        #expect(!json.contains("\"scalars\""))
        #expect(constants["cpu0/branch.else_branch/c"] == Tensor(scalar: Int64(-1)))
    }

    @Test func clashingSymbolsGetASuffix() {
        var graph = Graph(name: "g")
        let a = graph.addValue(Value(name: "n.t"))
        let b = graph.addValue(Value(name: "b"))
        graph.initializers[a] = Tensor(scalar: Float(1))
        graph.addNode(Node(
            name: "n", op: .identity, inputs: [a], outputs: [b],
            attributes: Attributes(["t": .tensor(Tensor(scalar: Float(2)))])))
        let (document, constants) = graph.encodedWithoutConstants(symbolPrefix: "")
        #expect(document.constantSymbols == ["n.t", "n.t~1"])
        #expect(constants["n.t~1"] == Tensor(scalar: Float(2)))
    }

    @Test func floatsSurviveExactly() throws {
        let values: [Float] = [0.1, -0.0, 1e-30, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 26 / 256, .nan]
        var graph = Graph(name: "g")
        let x = graph.addValue(Value(name: "x"))
        graph.addNode(Node(name: "n", op: .identity, inputs: [x], outputs: [x], attributes: Attributes(["f": .floats(values)])))
        let (decoded, _, _) = try Self.roundTrip(graph)
        let floats = try #require(try decoded.nodes.first?.attributes.floats("f"))
        #expect(floats.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func encodingIsDeterministic() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let first = try encoder.encode(SampleGraphs.controlFlow().encodedWithoutConstants(symbolPrefix: "p/").0)
        let second = try encoder.encode(SampleGraphs.controlFlow().encodedWithoutConstants(symbolPrefix: "p/").0)
        #expect(first == second)
    }

    @Test func missingConstantIsCodedError() throws {
        let (document, constants) = SampleGraphs.controlFlow().encodedWithoutConstants(symbolPrefix: "")
        for symbol in constants.keys {
            var fewer = constants
            fewer[symbol] = nil
            let error = #expect(throws: KilnError.self) { try Graph(document: document, constants: fewer) }
            #expect(error?.code == .constantMissing)
        }
    }

    @Test func badIndicesAndOpsAreCodedErrors() throws {
        let (document, constants) = SampleGraphs.convolution().encodedWithoutConstants(symbolPrefix: "")
        var badInput = document
        badInput.nodes[0].inputs[0] = 99
        var badOutput = document
        badOutput.outputs = [-1]
        var badOp = document
        badOp.nodes[1].op = "frobnicate"
        var badInitializer = document
        badInitializer.initializers[0].value = document.values.count
        for bad in [badInput, badOutput, badOp, badInitializer] {
            let error = #expect(throws: KilnError.self) { try Graph(document: bad, constants: constants) }
            #expect(error?.code == .artifactMalformed)
        }
        var newer = document
        newer.version = GraphDocument.currentVersion + 1
        let error = #expect(throws: KilnError.self) { try Graph(document: newer, constants: constants) }
        #expect(error?.code == .artifactTooNew)
    }

    @Test func attributeWithTwoKindsDoesNotDecode() {
        let json = Data(#"{"int": 1, "float": 2}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(GraphDocument.AttributeRecord.self, from: json) }
    }
}
