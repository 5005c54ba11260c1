import KilnCore
import KilnIR

/// The graph as a rewrite rule sees it: the graph itself plus the questions rules ask
/// about it (who produces a value, who reads it, is it a constant).
///
/// Use counts cover every way a value can be read: node inputs, graph outputs, and the
/// captures of `If`/`Loop` bodies (by name). A rule that removes an intermediate value
/// checks ``hasSingleUse(_:)`` first, so nothing else loses its operand.
public struct RewriteView: Sendable {
    /// The graph being rewritten.
    public let graph: Graph
    private let producerIDs: [NodeID?]
    private let readCounts: [Int]
    private let graphOutputs: Set<ValueID>
    private let graphInputs: Set<ValueID>
    private let capturedNames: Set<String>
    /// Every value name in the graph (for fresh names).
    let names: Set<String>

    /// Builds the view's use lists (linear in the graph's size).
    public init(_ graph: Graph) {
        self.graph = graph
        producerIDs = graph.producers()
        var counts = [Int](repeating: 0, count: graph.values.count)
        var captured = Set<String>()
        for node in graph.nodes {
            for case let input? in node.inputs { counts[input.index] += 1 }
            captured.formUnion(Graph.captureNames(of: node))
        }
        readCounts = counts
        graphOutputs = Set(graph.outputs)
        graphInputs = Set(graph.inputs)
        capturedNames = captured
        names = Set(graph.values.map(\.name))
    }

    /// The node that produces `id`, or `nil` for graph inputs, initializers, captures and
    /// an absent operand.
    public func producer(of id: ValueID?) -> Node? {
        guard let id, let node = producerIDs[id.index] else { return nil }
        return graph.nodes[node.index]
    }

    /// The tensor of an initializer that the caller cannot override (an initializer that is
    /// also a graph input is only a default, so it is not a constant).
    public func constant(_ id: ValueID?) -> Tensor? {
        guard let id, !graphInputs.contains(id) else { return nil }
        return graph.initializers[id]
    }

    /// The element of a one-element constant, as a `Double` (`nil` otherwise).
    public func scalar(_ id: ValueID?) -> Double? {
        guard let tensor = constant(id), tensor.count == 1 else { return nil }
        return tensor.doubleScalars().first
    }

    /// Whether `id` is a one-element constant within `tolerance` of `expected`.
    public func isScalar(_ id: ValueID?, _ expected: Double, tolerance: Double = 1e-6) -> Bool {
        guard let value = scalar(id) else { return false }
        return Swift.abs(value - expected) <= tolerance
    }

    /// The value's type (`.unknown` for an absent operand).
    public func type(of id: ValueID?) -> TensorType {
        id.map { graph[$0].type } ?? .unknown
    }

    /// The value's shape when every dimension is known.
    public func staticShape(of id: ValueID?) -> [Int]? {
        type(of: id).staticShape
    }

    /// Whether the value's dtype is known to be a floating-point type.
    public func isFloatingPoint(_ id: ValueID?) -> Bool {
        type(of: id).dtype?.isFloatingPoint ?? false
    }

    /// Whether exactly one node input reads `id` and nothing else does (no graph output, no
    /// subgraph capture). A value read twice by the same node counts twice.
    public func hasSingleUse(_ id: ValueID?) -> Bool {
        guard let id else { return false }
        return readCounts[id.index] == 1 && !graphOutputs.contains(id) && !capturedNames.contains(graph[id].name)
    }

    /// Whether anything reads `id`: a node, the graph's outputs or a subgraph capture.
    public func isRead(_ id: ValueID) -> Bool {
        readCounts[id.index] > 0 || graphOutputs.contains(id) || capturedNames.contains(graph[id].name)
    }

    /// Whether `id` is one of the graph's outputs.
    public func isGraphOutput(_ id: ValueID) -> Bool {
        graphOutputs.contains(id)
    }

    /// Whether a subgraph reads `id` by name.
    public func isCaptured(_ id: ValueID) -> Bool {
        capturedNames.contains(graph[id].name)
    }

    /// Whether the value may be renamed to take over a graph output's name: a node result
    /// that is not itself a graph input, output or initializer and that no subgraph reads
    /// by name. Values a ``Replacement`` creates may always be renamed.
    func canTakeOutputName(_ id: ValueID) -> Bool {
        guard id.index < graph.values.count else { return true }
        return producerIDs[id.index] != nil && !graphOutputs.contains(id) && !graphInputs.contains(id)
            && !capturedNames.contains(graph[id].name)
    }

    /// The two operands of a binary node, or `nil` when it does not have exactly two.
    public func binaryOperands(_ node: Node) -> (ValueID, ValueID)? {
        guard node.inputs.count == 2, let lhs = node.inputs[0], let rhs = node.inputs[1] else { return nil }
        return (lhs, rhs)
    }

    /// The node's single output, or `nil` when it has another number of outputs.
    public func singleOutput(_ node: Node) -> ValueID? {
        guard node.outputs.count == 1 else { return nil }
        return node.outputs[0]
    }
}
