import KilnCore
import KilnIR
import Testing

/// Shape rules of the NN family on symbolic shapes (the node tests cover known shapes).
@Suite struct NNShapeRulesTests {
    /// Infers the outputs of one node over inputs of the given types.
    private func infer(_ op: OpKind, _ inputs: [TensorType], outputs: Int = 1, _ attributes: [String: AttributeValue] = [:]) throws -> [TensorType] {
        var graph = Graph(name: "g")
        let ids = inputs.enumerated().map { graph.addValue(Value(name: "in\($0.offset)", type: $0.element)) }
        let results = (0..<outputs).map { graph.addValue(Value(name: "out\($0)")) }
        graph.inputs = ids
        graph.addNode(Node(name: "n", op: op, inputs: ids, outputs: results, attributes: Attributes(attributes)))
        graph.outputs = results
        let inferred = try ShapeInference.infer(graph)
        return results.map { inferred[$0].type }
    }

    private func type(_ dims: Dim...) -> TensorType { TensorType(dtype: .float32, shape: dims) }

    @Test func convKeepsSymbolicBatchAndComputesKnownSpatialExtents() throws {
        let result = try infer(
            .conv, [type(.symbol("N"), .known(3), .known(32), .unknown), type(.known(8), .known(3), .known(3), .known(3))],
            ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])])
        #expect(result == [type(.symbol("N"), .known(8), .known(16), .unknown)])
    }

    @Test func convTransposeMultipliesOutputChannelsByGroup() throws {
        let result = try infer(
            .convTranspose, [type(.symbol("N"), .known(4), .known(5)), type(.known(4), .known(3), .known(3))],
            ["group": .int(2), "strides": .ints([2])])
        #expect(result == [type(.symbol("N"), .known(6), .known(11))])
    }

    @Test func maxPoolIndicesAreInt64() throws {
        let result = try infer(
            .maxPool, [type(.symbol("N"), .symbol("C"), .known(7), .known(7))], outputs: 2,
            ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "ceil_mode": .int(1)])
        #expect(result[0] == type(.symbol("N"), .symbol("C"), .known(4), .known(4)))
        #expect(result[1] == TensorType(dtype: .int64, shape: [.symbol("N"), .symbol("C"), .known(4), .known(4)]))
    }

    @Test func matMulBroadcastsBatchSymbolically() throws {
        let result = try infer(.matMul, [type(.symbol("B"), .known(1), .symbol("S"), .known(64)), type(.known(12), .known(64), .known(16))])
        #expect(result == [type(.symbol("B"), .known(12), .symbol("S"), .known(16))])
        let vector = try infer(.matMul, [type(.known(64)), type(.symbol("B"), .known(64), .known(16))])
        #expect(vector == [type(.symbol("B"), .known(16))])
    }

    @Test func matMulRejectsMismatchedInnerDimensions() {
        #expect(throws: KilnError.self) { try infer(.matMul, [type(.known(2), .known(3)), type(.known(4), .known(5))]) }
    }

    @Test func gemmTransposes() throws {
        let result = try infer(.gemm, [type(.known(7), .symbol("M")), type(.known(5), .known(7))], ["transA": .int(1), "transB": .int(1)])
        #expect(result == [type(.symbol("M"), .known(5))])
    }

    @Test func einsumTakesLabelExtentsFromOperands() throws {
        let result = try infer(.einsum, [type(.symbol("B"), .known(3), .known(4)), type(.symbol("B"), .known(4), .known(5))], ["equation": .string("bij,bjk->bik")])
        #expect(result == [type(.symbol("B"), .known(3), .known(5))])
        let implicit = try infer(.einsum, [type(.known(3), .known(4)), type(.known(4), .known(5))], ["equation": .string("ij,jk")])
        #expect(implicit == [type(.known(3), .known(5))])
    }

    @Test func layerNormalizationStatisticsKeepLeadingAxes() throws {
        let result = try infer(.layerNormalization, [type(.symbol("B"), .symbol("S"), .known(8)), type(.known(8))], outputs: 3, ["axis": .int(-1)])
        #expect(result[0] == type(.symbol("B"), .symbol("S"), .known(8)))
        #expect(result[1] == type(.symbol("B"), .symbol("S"), .known(1)))
    }

    @Test func lstmOutputsFollowLayout() throws {
        let x = type(.symbol("B"), .symbol("S"), .known(10))
        let w = type(.known(2), .known(16), .known(10))
        let r = type(.known(2), .known(16), .known(4))
        let result = try infer(.lstm, [x, w, r], outputs: 3, ["direction": .string("bidirectional"), "layout": .int(1), "hidden_size": .int(4)])
        #expect(result[0] == type(.symbol("B"), .symbol("S"), .known(2), .known(4)))
        #expect(result[1] == type(.symbol("B"), .known(2), .known(4)))
        #expect(result[2] == type(.symbol("B"), .known(2), .known(4)))
    }

    @Test func unknownInputsGiveUnknownOutputs() throws {
        let result = try infer(.conv, [TensorType(dtype: .float32, shape: nil), type(.known(8), .known(3), .known(3), .known(3))])
        #expect(result == [TensorType(dtype: .float32, shape: nil)])
    }
}
