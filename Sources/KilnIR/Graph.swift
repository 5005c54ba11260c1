import KilnCore

/// A dataflow graph: values, nodes in topological order, graph inputs and outputs,
/// initializers, and (for a subgraph of `If`/`Loop`) the outer values it captures.
///
/// `Graph` is a value: passes take a graph and return a new one.
///
/// ```swift
/// var graph = Graph(name: "main")
/// let x = graph.addValue(Value(name: "x", type: TensorType(dtype: .float32, shape: [1, 4])))
/// let y = graph.addValue(Value(name: "y"))
/// graph.inputs = [x]
/// graph.addNode(Node(name: "relu0", op: .relu, inputs: [x], outputs: [y]))
/// graph.outputs = [y]
/// ```
public struct Graph: Hashable, Sendable {
    /// The graph's name.
    public var name: String
    /// Every value, indexed by ``ValueID``.
    public var values: [Value]
    /// Nodes in topological order.
    public var nodes: [Node]
    /// Values the caller provides.
    public var inputs: [ValueID]
    /// Values the graph returns.
    public var outputs: [ValueID]
    /// Constant values (weights), by value.
    public var initializers: [ValueID: Tensor]
    /// Values of an enclosing graph this subgraph reads, resolved by name at run time.
    public var captures: [ValueID]

    /// An empty graph.
    public init(name: String) {
        self.name = name
        values = []
        nodes = []
        inputs = []
        outputs = []
        initializers = [:]
        captures = []
    }

    /// Appends a value and returns its id.
    @discardableResult
    public mutating func addValue(_ value: Value) -> ValueID {
        values.append(value)
        return ValueID(values.count - 1)
    }

    /// Appends a node and returns its id.
    @discardableResult
    public mutating func addNode(_ node: Node) -> NodeID {
        nodes.append(node)
        return NodeID(nodes.count - 1)
    }

    /// The value with `id`.
    public subscript(id: ValueID) -> Value {
        get { values[id.index] }
        set { values[id.index] = newValue }
    }

    /// The id of the value named `name`, if any (linear search; build a map for loops).
    public func valueID(named name: String) -> ValueID? {
        values.firstIndex { $0.name == name }.map(ValueID.init)
    }

    /// For each value, the node that produces it (`nil` for inputs, initializers, captures).
    public func producers() -> [NodeID?] {
        var producer = [NodeID?](repeating: nil, count: values.count)
        for (index, node) in nodes.enumerated() {
            for case let output? in node.outputs { producer[output.index] = NodeID(index) }
        }
        return producer
    }

    /// For each value, the nodes that read it.
    public func consumers() -> [[NodeID]] {
        var users = [[NodeID]](repeating: [], count: values.count)
        for (index, node) in nodes.enumerated() {
            for case let input? in node.inputs { users[input.index].append(NodeID(index)) }
        }
        return users
    }

    /// Whether any node, here or in a nested subgraph, is `If` or `Loop`.
    public var hasControlFlow: Bool {
        nodes.contains { node in
            OpKind.controlFlow.contains(node.op)
                || node.attributes.values.values.contains { value in
                    if case .graph(let body) = value { return body.hasControlFlow }
                    return false
                }
        }
    }
}
