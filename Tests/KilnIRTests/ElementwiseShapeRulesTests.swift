import KilnCore
import KilnIR
import Testing

/// Shape inference of elementwise ops through the public driver.
@Suite struct ElementwiseShapeRulesTests {
    /// Infers the output type of one node over inputs of the given types.
    private func infer(
        _ op: OpKind, _ inputs: [TensorType], attributes: Attributes = Attributes(),
        constants: [Int: Tensor] = [:]
    ) throws -> TensorType {
        var graph = Graph(name: "g")
        var ids: [ValueID] = []
        for (index, type) in inputs.enumerated() {
            let id = graph.addValue(Value(name: "in\(index)", type: type))
            if let constant = constants[index] { graph.initializers[id] = constant } else { graph.inputs.append(id) }
            ids.append(id)
        }
        let output = graph.addValue(Value(name: "out"))
        graph.addNode(Node(name: "n", op: op, inputs: ids, outputs: [output], attributes: attributes))
        graph.outputs = [output]
        return try ShapeInference.infer(graph)[output].type
    }

    @Test func broadcastingKeepsSymbolsAgainstOnesAndEqualSymbols() throws {
        let a = TensorType(dtype: .float32, shape: [.symbol("batch"), .known(1), .symbol("n")])
        let b = TensorType(dtype: .float32, shape: [.known(3), .symbol("n")])
        let result = try infer(.add, [a, b])
        #expect(result == TensorType(dtype: .float32, shape: [.symbol("batch"), .known(3), .symbol("n")]))
    }

    @Test func broadcastingDifferentSymbolsIsUnknownAndKnownWins() throws {
        let a = TensorType(dtype: .int64, shape: [.symbol("a"), .symbol("b")])
        let b = TensorType(dtype: .int64, shape: [.symbol("c"), .known(4)])
        let result = try infer(.less, [a, b])
        #expect(result == TensorType(dtype: .bool, shape: [.unknown, .known(4)]))
    }

    @Test func incompatibleKnownExtentsThrow() {
        let a = TensorType(dtype: .float32, shape: [2, 3])
        let b = TensorType(dtype: .float32, shape: [4])
        #expect(throws: KilnError.self) { try infer(.mul, [a, b]) }
    }

    @Test func reductionWithConstantAxesDropsOrKeepsThem() throws {
        let x = TensorType(dtype: .float32, shape: [.symbol("batch"), .known(3), .known(5)])
        let axes = TensorType(dtype: .int64, shape: [1])
        let constant = [1: Tensor(shape: [1], scalars: [Int64(-1)])]
        let kept = try infer(.reduceMean, [x, axes], constants: constant)
        #expect(kept.shape == [.symbol("batch"), .known(3), .known(1)])
        let dropped = try infer(
            .reduceMean, [x, axes], attributes: Attributes(["keepdims": .int(0)]), constants: constant)
        #expect(dropped.shape == [.symbol("batch"), .known(3)])
    }

    @Test func castTakesItsTargetDtype() throws {
        let x = TensorType(dtype: .float32, shape: [.symbol("n")])
        let result = try infer(.cast, [x], attributes: Attributes(["to": .string("int64")]))
        #expect(result == TensorType(dtype: .int64, shape: [.symbol("n")]))
    }
}
