import Foundation
import KilnCore
import KilnIR
import KilnPasses
import KilnTargets

/// Builds small typed graphs for the partition tests: inputs, deterministic constants and
/// nodes, then shape inference.
///
/// ```swift
/// var g = PartitionTestGraph()
/// let x = g.input("x", [1, 3, 8, 8])
/// let y = g.conv(x, inputs: 3, out: 4, kernel: [3, 3], name: "conv")
/// let relu = g.node(.relu, [y], name: "relu")
/// let graph = try g.finish([relu])   // (not `g.finish([g.node(…)])`: `finish` would copy `g` first)
/// ```
struct PartitionTestGraph {
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

    /// A graph input with a static shape.
    mutating func input(_ name: String, _ shape: [Int], dtype: DType = .float32) -> ValueID {
        input(name, dims: shape.map(Dim.known), dtype: dtype)
    }

    /// A graph input with any dims.
    mutating func input(_ name: String, dims: [Dim], dtype: DType = .float32) -> ValueID {
        let id = graph.addValue(Value(name: name, type: TensorType(dtype: dtype, shape: dims)))
        graph.inputs.append(id)
        return id
    }

    /// A float32 constant with deterministic values in [−0.5, 0.5].
    mutating func constant(_ shape: [Int], name: String? = nil) -> ValueID {
        let count = Tensor.elementCount(shape)
        let scalars = (0..<count).map { Float(sin(Double($0) * 1.7 + Double(counter))) * 0.5 }
        return initializer(Tensor(shape: shape, scalars: scalars), name: name ?? fresh("w"))
    }

    /// A float32 constant with the given values.
    mutating func floats(_ values: [Float], shape: [Int]? = nil) -> ValueID {
        initializer(Tensor(shape: shape ?? [values.count], scalars: values), name: fresh("f"))
    }

    /// A 1-D int64 constant.
    mutating func ints(_ values: [Int]) -> ValueID {
        initializer(Tensor(shape: [values.count], scalars: values.map(Int64.init)), name: fresh("i"))
    }

    private mutating func initializer(_ tensor: Tensor, name: String) -> ValueID {
        let id = graph.addValue(Value(name: name, type: TensorType(dtype: tensor.dtype, shape: tensor.shape)))
        graph.initializers[id] = tensor
        return id
    }

    /// A node with `outputs` results; returns them.
    @discardableResult
    mutating func nodes(
        _ op: OpKind, _ inputs: [ValueID?], name: String? = nil, outputs: Int,
        _ attributes: [String: AttributeValue] = [:]
    ) -> [ValueID] {
        let nodeName = name ?? fresh(op.rawValue)
        let results = (0..<outputs).map { index in
            graph.addValue(Value(name: outputs == 1 ? "\(nodeName):out" : "\(nodeName):out\(index)"))
        }
        graph.addNode(Node(name: nodeName, op: op, inputs: inputs, outputs: results, attributes: Attributes(attributes)))
        return results
    }

    /// A node with one result.
    @discardableResult
    mutating func node(_ op: OpKind, _ inputs: [ValueID?], name: String? = nil, _ attributes: [String: AttributeValue] = [:]) -> ValueID {
        nodes(op, inputs, name: name, outputs: 1, attributes)[0]
    }

    /// A Conv with constant weights `[out, in/group, k, k]` and a bias.
    mutating func conv(
        _ x: ValueID, inputs: Int, out: Int, kernel: [Int], group: Int = 1, name: String,
        _ attributes: [String: AttributeValue] = [:]
    ) -> ValueID {
        let weights = constant([out, inputs / group] + kernel)
        let bias = constant([out])
        var attributes = attributes
        attributes["group"] = .int(group)
        return node(.conv, [x, weights, bias], name: name, attributes)
    }

    /// The graph with `outputs` as its outputs, types inferred.
    func finish(_ outputs: [ValueID]) throws -> Graph {
        var graph = self.graph
        graph.outputs = outputs
        return try ShapeInference.infer(graph)
    }
}

extension Annotation {
    /// The placement of the node called `name`.
    func placement(of name: String, in graph: Graph) -> Placement? {
        graph.nodes.firstIndex { $0.name == name }.map { placements[$0] }
    }
}
