import KilnCore
import KilnIR

/// Small hand-built graphs that exercise every part of the IR a serializer must keep:
/// symbolic and unknown dims, omitted optional operands, every attribute kind, tensor
/// attributes, nested graphs with captures and initializers of their own.
public enum SampleGraphs {
    /// `x: float32[batch, 3, 4, 4]` → Conv(w, b) → Relu → LeakyRelu(0.1) → Clip(max only) → y.
    public static func convolution(channels: Int = 2) -> Graph {
        var graph = Graph(name: "conv_net")
        let x = graph.addValue(Value(
            name: "x", type: TensorType(dtype: .float32, shape: [.symbol("batch"), .known(3), .known(4), .known(4)])))
        let weight = graph.addValue(Value(name: "conv1.weight", type: TensorType(dtype: .float32, shape: [channels, 3, 3, 3])))
        let bias = graph.addValue(Value(name: "conv1.bias", type: TensorType(dtype: .float32, shape: [channels])))
        let conv = graph.addValue(Value(name: "conv1_out"))
        let relu = graph.addValue(Value(
            name: "relu_out", type: TensorType(dtype: .float32, shape: [.symbol("batch"), .known(channels), .unknown, .unknown])))
        let leaky = graph.addValue(Value(name: "leaky_out", type: TensorType(dtype: .float32, shape: nil)))
        let high = graph.addValue(Value(name: "six", type: TensorType(dtype: .float32, shape: [])))
        let y = graph.addValue(Value(name: "y"))
        graph.inputs = [x]
        graph.outputs = [y]
        graph.initializers[weight] = ramp(shape: [channels, 3, 3, 3], scale: 0.01)
        graph.initializers[bias] = ramp(shape: [channels], scale: -0.5)
        graph.initializers[high] = Tensor(scalar: Float(6))
        graph.addNode(Node(
            name: "conv1", op: .conv, inputs: [x, weight, bias], outputs: [conv],
            attributes: Attributes([
                "kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "strides": .ints([1, 1]),
                "group": .int(1), "auto_pad": .string("NOTSET"),
            ])))
        graph.addNode(Node(name: "relu1", op: .relu, inputs: [conv], outputs: [relu]))
        graph.addNode(Node(
            name: "leaky1", op: .leakyRelu, inputs: [relu], outputs: [leaky],
            attributes: Attributes(["alpha": .float(0.1)])))
        graph.addNode(Node(name: "clip1", op: .clip, inputs: [leaky, nil, high], outputs: [y]))
        return graph
    }

    /// An `If` whose branches capture an outer value and hold tensors of their own, a
    /// `ConstantOfShape` with a tensor attribute, and every remaining attribute kind.
    public static func controlFlow() -> Graph {
        var graph = Graph(name: "branchy")
        let condition = graph.addValue(Value(name: "cond", type: TensorType(dtype: .bool, shape: [])))
        let x = graph.addValue(Value(name: "x", type: TensorType(dtype: .int64, shape: [.symbol("n")])))
        let shape = graph.addValue(Value(name: "shape", type: TensorType(dtype: .int64, shape: [2])))
        let filled = graph.addValue(Value(name: "filled"))
        let y = graph.addValue(Value(name: "y"))
        graph.inputs = [condition, x]
        graph.outputs = [y, filled]
        graph.initializers[shape] = Tensor(shape: [2], scalars: [2, 3] as [Int64])

        graph.addNode(Node(
            name: "fill", op: .constantOfShape, inputs: [shape], outputs: [filled],
            attributes: Attributes([
                "value": .tensor(Tensor(shape: [1], scalars: [7] as [Int32])),
                "floats": .floats([0.1, -0.0, .infinity, -.infinity, 1e-30]),
                "strings": .strings(["a", "b/c", ""]),
            ])))
        graph.addNode(Node(
            name: "branch", op: .if, inputs: [condition], outputs: [y],
            attributes: Attributes([
                "then_branch": .graph(branch(name: "then", addend: 1, outerX: "x")),
                "else_branch": .graph(branch(name: "else", addend: -1, outerX: "x")),
            ])))
        return graph
    }

    /// A branch: `out = x + c` with `x` captured from the enclosing graph and `c` its own
    /// initializer, plus a tensor attribute on a node.
    private static func branch(name: String, addend: Int64, outerX: String) -> Graph {
        var body = Graph(name: name)
        let x = body.addValue(Value(name: outerX, type: TensorType(dtype: .int64, shape: [.symbol("n")])))
        let constant = body.addValue(Value(name: "c", type: TensorType(dtype: .int64, shape: [])))
        let sum = body.addValue(Value(name: "\(name)_sum"))
        let out = body.addValue(Value(name: "\(name)_out"))
        body.captures = [x]
        body.initializers[constant] = Tensor(scalar: addend)
        body.outputs = [out]
        body.addNode(Node(name: "add", op: .add, inputs: [x, constant], outputs: [sum]))
        body.addNode(Node(
            name: "id", op: .identity, inputs: [sum], outputs: [out],
            attributes: Attributes(["note": .tensor(Tensor(shape: [2], scalars: [1.5, 2.5] as [Double]))])))
        return body
    }

    /// `scale · (0, 1, 2, …)` as float32 of `shape`.
    public static func ramp(shape: [Int], scale: Float) -> Tensor {
        let count = Tensor.elementCount(shape)
        return Tensor(shape: shape, scalars: (0..<count).map { Float($0) * scale })
    }
}
