import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnPasses
import KilnTestSupport
import Testing

/// `Loop` unrolling on the reference `loop_model` (five trips of `x ← tanh(x·W + b)`, scanning
/// out `x + iteration`), and the loops it must leave alone.
@Suite struct UnrollLoopsTests {
    static var entry: ReferenceModels.Entry? { ReferenceModels.manifest.first { $0.name == "loop_model" } }

    static func loopModel() throws -> Graph? {
        guard let entry else { return nil }
        return try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
    }

    @Test func unrollsAConstantTripLoopIntoTheSameBits() throws {
        guard let before = try Self.loopModel(), let entry = Self.entry else { return }
        let after = try PassTesting.run([.unrollLoops], on: before)
        #expect(!after.hasControlFlow)
        #expect(after.nodes.filter { $0.op == .tanh }.count == 5)
        #expect(after.nodes.filter { $0.op == .concat }.count == 1)
        for (inputs, _) in try entry.inputSets() {
            let expected = try Interpreter(graph: before).run(inputs)
            let actual = try Interpreter(graph: after).run(inputs)
            #expect(actual.keys.sorted() == expected.keys.sorted())
            for (name, tensor) in expected { #expect(actual[name] == tensor, "\(name) differs after unrolling") }
        }
    }

    /// Trip counts out of range, a trip count the caller may override, a false or
    /// computed condition: the loop stays.
    @Test func leavesLoopsItCannotProve() throws {
        guard let graph = try Self.loopModel() else { return }
        let loopIndex = try #require(graph.nodes.firstIndex { $0.op == .loop })
        let loop = graph.nodes[loopIndex]
        let tripCount = try #require(loop.input(0))
        let condition = try #require(loop.input(1))

        var variants: [(String, Graph)] = []
        for trips in [0, UnrollLoops.maxTrips + 1] {
            var variant = graph
            variant.initializers[tripCount] = Tensor(scalar: Int64(trips))
            variants.append(("\(trips) trips", variant))
        }
        var overridable = graph
        overridable.inputs.append(tripCount)
        variants.append(("trip count is a graph input", overridable))
        var stopped = graph
        stopped.initializers[condition] = Tensor(scalar: false)
        variants.append(("initial condition false", stopped))
        var computed = graph
        var body = try #require(try loop.attributes.graph("body"))
        let identity = try #require(body.nodes.firstIndex { $0.op == .identity && $0.outputs.first == body.outputs[0] })
        body.nodes[identity].op = .not
        computed.nodes[loopIndex].attributes = Attributes(
            loop.attributes.values.merging(["body": .graph(body)]) { _, new in new })
        variants.append(("condition computed by the body", computed))

        for (reason, variant) in variants {
            let after = try PassTesting.run([.unrollLoops], on: variant)
            #expect(after.nodes.contains { $0.op == .loop }, "\(reason): the loop must stay")
        }
    }
}
