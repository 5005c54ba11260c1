import KilnCore
import KilnIR
import KilnPasses
import KilnTargets

/// Builds small typed graphs, then prepares and partitions them as `kiln inspect` does.
///
/// ```swift
/// var g = TestGraph()
/// let x = g.input("x", [1, 16, 8, 8])
/// let y = g.conv(x, inputs: 16, out: 32, kernel: 3, name: "conv")
/// let graph = try g.partitioned([g.node(.relu, [y], name: "relu")])
/// ```
struct TestGraph {
    var graph = Graph(name: "test")
    private var counter = 0

    static let b4096: DPUArchitecture = {
        guard let target = try? Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096") else {
            preconditionFailure("the catalog has DPUCZDX8G_ISA1_B4096")
        }
        return target
    }()

    private mutating func fresh(_ base: String) -> String {
        counter += 1
        return "\(base)_\(counter)"
    }

    mutating func input(_ name: String, _ shape: [Int]) -> ValueID {
        let id = graph.addValue(Value(name: name, type: TensorType(dtype: .float32, shape: shape.map(Dim.known))))
        graph.inputs.append(id)
        return id
    }

    /// A float32 constant with small deterministic values.
    mutating func constant(_ shape: [Int]) -> ValueID {
        let count = Tensor.elementCount(shape)
        let scalars = (0..<count).map { Float(($0 * 7 + counter) % 13) / 26 - 0.25 }
        let id = graph.addValue(Value(name: fresh("w"), type: TensorType(dtype: .float32, shape: shape.map(Dim.known))))
        graph.initializers[id] = Tensor(shape: shape, scalars: scalars)
        return id
    }

    @discardableResult
    mutating func node(_ op: OpKind, _ inputs: [ValueID?], name: String? = nil, _ attributes: [String: AttributeValue] = [:]) -> ValueID {
        let nodeName = name ?? fresh(op.rawValue)
        let output = graph.addValue(Value(name: "\(nodeName):out"))
        graph.addNode(Node(name: nodeName, op: op, inputs: inputs, outputs: [output], attributes: Attributes(attributes)))
        return output
    }

    /// A square Conv with padding `kernel / 2`, weights and a bias.
    mutating func conv(
        _ x: ValueID, inputs: Int, out: Int, kernel: Int, stride: Int = 1, group: Int = 1, name: String
    ) -> ValueID {
        let weights = constant([out, inputs / group, kernel, kernel])
        let bias = constant([out])
        let pad = kernel / 2
        return node(.conv, [x, weights, bias], name: name, [
            "group": .int(group), "kernel_shape": .ints([kernel, kernel]), "strides": .ints([stride, stride]),
            "pads": .ints([pad, pad, pad, pad]),
        ])
    }

    /// The graph with `outputs`, prepared and partitioned for B4096.
    func partitioned(_ outputs: [ValueID]) throws -> Graph {
        var graph = self.graph
        graph.outputs = outputs
        return try InspectPipeline.inspect(graph, target: Self.b4096).partition.graph
    }
}
