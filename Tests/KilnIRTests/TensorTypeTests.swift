import KilnCore
import KilnIR
import Testing

@Suite struct TensorTypeTests {
    @Test func printsSymbolicAndUnknownDimensions() {
        let type = TensorType(dtype: .float32, shape: [.symbol("batch"), .known(3), .unknown])
        #expect(type.description == "float32[batch, 3, ?]")
        #expect(type.staticShape == nil)
        #expect(TensorType.unknown.description == "?[*]")
        #expect(TensorType(dtype: .int64, shape: [2]).staticShape == [2])
    }

    @Test func bindingAnInputMakesShapesStatic() throws {
        var graph = VerifierTests.valid()
        graph[ValueID(0)].type = TensorType(dtype: .float32, shape: [.symbol("n")])
        let bound = try ShapeInference.infer(graph, bindings: ["x": [7]])
        #expect(bound[ValueID(0)].type.staticShape == [7])
    }
}
