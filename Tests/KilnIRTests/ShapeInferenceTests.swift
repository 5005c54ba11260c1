import KilnCore
import Testing

@testable import KilnIR

/// Builds small graphs by hand for shape-inference tests.
private struct GraphSketch {
    var graph = Graph(name: "test")

    mutating func input(_ name: String, _ dtype: DType, _ shape: [Dim]) -> ValueID {
        let id = graph.addValue(Value(name: name, type: TensorType(dtype: dtype, shape: shape)))
        graph.inputs.append(id)
        return id
    }

    mutating func constant(_ name: String, _ values: [Int64], shape: [Int]? = nil) -> ValueID {
        let id = graph.addValue(Value(name: name))
        graph.initializers[id] = Tensor(shape: shape ?? [values.count], scalars: values)
        return id
    }

    mutating func node(
        _ op: OpKind, _ inputs: [ValueID?], outputs: Int = 1, _ attributes: [String: AttributeValue] = [:]
    ) -> [ValueID] {
        let outputIDs = (0..<outputs).map { _ in graph.addValue(Value(name: "v\(graph.values.count)")) }
        graph.addNode(
            Node(name: "n\(graph.nodes.count)", op: op, inputs: inputs, outputs: outputIDs, attributes: Attributes(attributes)))
        return outputIDs
    }

    func inferred(_ id: ValueID) throws -> TensorType {
        try ShapeInference.infer(graph)[id].type
    }
}

private let batch = Dim.symbol("batch")

@Suite struct DataMovementShapeInferenceTests {
    @Test func shapeGatherUnsqueezeConcatReshapeKeepsBatch() throws {
        var sketch = GraphSketch()
        let x = sketch.input("x", .float32, [batch, .known(8), .known(4)])
        let shape = sketch.node(.shape, [x])[0]
        let zero = sketch.constant("zero", [0], shape: [])
        let batchDim = sketch.node(.gather, [shape, zero], ["axis": .int(0)])[0]
        let axes = sketch.constant("axes", [0])
        let batch1D = sketch.node(.unsqueeze, [batchDim, axes])[0]
        let minusOne = sketch.constant("minus_one", [-1])
        let target = sketch.node(.concat, [batch1D, minusOne], ["axis": .int(0)])[0]
        let y = sketch.node(.reshape, [x, target])[0]
        #expect(try sketch.inferred(shape) == TensorType(dtype: .int64, shape: [.known(3)]))
        #expect(try sketch.inferred(batchDim) == TensorType(dtype: .int64, shape: []))
        #expect(try sketch.inferred(target) == TensorType(dtype: .int64, shape: [.known(2)]))
        #expect(try sketch.inferred(y) == TensorType(dtype: .float32, shape: [batch, .known(32)]))
    }

    @Test func reshapeZeroCopiesSymbolicDim() throws {
        var sketch = GraphSketch()
        let x = sketch.input("x", .float32, [batch, .known(3), .known(4)])
        let target = sketch.constant("target", [0, -1])
        let y = sketch.node(.reshape, [x, target])[0]
        #expect(try sketch.inferred(y) == TensorType(dtype: .float32, shape: [batch, .known(12)]))
    }

    @Test func shapeSliceFeedsExpandAndConstantOfShape() throws {
        var sketch = GraphSketch()
        let x = sketch.input("x", .float32, [batch, .symbol("seq"), .known(16)])
        let shape = sketch.node(.shape, [x])[0]
        let starts = sketch.constant("starts", [0])
        let ends = sketch.constant("ends", [2])
        let leading = sketch.node(.slice, [shape, starts, ends])[0]
        let filled = sketch.node(.constantOfShape, [leading])[0]
        let one = sketch.input("one", .float32, [.known(1), .known(1)])
        let expanded = sketch.node(.expand, [one, leading])[0]
        #expect(try sketch.inferred(filled) == TensorType(dtype: .float32, shape: [batch, .symbol("seq")]))
        #expect(try sketch.inferred(expanded) == TensorType(dtype: .float32, shape: [batch, .symbol("seq")]))
    }

    @Test func shapeStartEndAndRangeOverSymbol() throws {
        var sketch = GraphSketch()
        let x = sketch.input("x", .float32, [batch, .symbol("seq"), .known(16)])
        let seqShape = sketch.node(.shape, [x], ["start": .int(1), "end": .int(-1)])[0]
        let axes = sketch.constant("axes", [0])
        let seq = sketch.node(.squeeze, [seqShape, axes])[0]
        let zero = sketch.constant("zero", [0], shape: [])
        let one = sketch.constant("one", [1], shape: [])
        let positions = sketch.node(.range, [zero, seq, one])[0]
        #expect(try sketch.inferred(seqShape) == TensorType(dtype: .int64, shape: [.known(1)]))
        #expect(try sketch.inferred(positions) == TensorType(dtype: .int64, shape: [.symbol("seq")]))
    }

    @Test func layoutOpsKeepSymbols() throws {
        var sketch = GraphSketch()
        let x = sketch.input("x", .float32, [batch, .known(3), .known(4), .known(5)])
        let transposed = sketch.node(.transpose, [x], ["perm": .ints([0, 2, 3, 1])])[0]
        let flat = sketch.node(.flatten, [x], ["axis": .int(1)])[0]
        let pads = sketch.constant("pads", [0, 0, 1, 1, 0, 0, 1, 1])
        let padded = sketch.node(.pad, [x, pads])[0]
        let parts = sketch.node(.split, [x], outputs: 2, ["axis": .int(3), "num_outputs": .int(2)])
        let k = sketch.constant("k", [2])
        let top = sketch.node(.topK, [x, k], outputs: 2, ["axis": .int(1)])
        #expect(try sketch.inferred(transposed).shape == [batch, .known(4), .known(5), .known(3)])
        #expect(try sketch.inferred(flat).shape == [batch, .known(60)])
        #expect(try sketch.inferred(padded).shape == [batch, .known(3), .known(6), .known(7)])
        #expect(try sketch.inferred(parts[0]).shape == [batch, .known(3), .known(4), .known(3)])
        #expect(try sketch.inferred(parts[1]).shape == [batch, .known(3), .known(4), .known(2)])
        #expect(try sketch.inferred(top[1]) == TensorType(dtype: .int64, shape: [batch, .known(2), .known(4), .known(5)]))
    }

    @Test func unknownInputsGiveUnknownOutputs() throws {
        var sketch = GraphSketch()
        let x = sketch.input("x", .float32, [batch, .known(8)])
        let target = sketch.input("target", .int64, [.known(3)])
        let y = sketch.node(.reshape, [x, target])[0]
        let gathered = sketch.node(.gather, [x, target], ["axis": .int(1)])[0]
        #expect(try sketch.inferred(y) == TensorType(dtype: .float32, shape: [.unknown, .unknown, .unknown]))
        #expect(try sketch.inferred(gathered).shape == [batch, .known(3)])
    }
}
