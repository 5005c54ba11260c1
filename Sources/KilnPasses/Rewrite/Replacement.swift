import KilnCore
import KilnIR

/// What a ``RewriteRule`` returns: the nodes that take the matched node's place, the new
/// values they read, and outputs of the matched node that become another value.
///
/// The replacement nodes are inserted where the matched node was and must define each of
/// its outputs that something reads — by producing that same ``ValueID`` (its name and
/// type stay) or through ``alias(_:to:)``. Operands must already exist upstream or be
/// created here. Nodes the matched node consumed and nobody else reads disappear after the
/// rewrite.
///
/// ```swift
/// var replacement = Replacement(in: view)
/// let bias = replacement.constant(newBias, name: "conv0_bias")
/// replacement.nodes = [Node(name: conv.name, op: .conv, inputs: [x, w, bias], outputs: add.outputs)]
/// return replacement
/// ```
public struct Replacement: Sendable {
    /// The nodes that replace the matched node, in order.
    public var nodes: [Node]
    /// Outputs of the matched node that are now another value (`output → value`).
    public private(set) var aliases: [ValueID: ValueID] = [:]
    /// Values this replacement creates; their ids follow the graph's existing values.
    private(set) var newValues: [Value] = []
    /// The tensors of the created values that are initializers.
    private(set) var newInitializers: [ValueID: Tensor] = [:]
    private let firstNewIndex: Int
    private var takenNames: Set<String>

    /// Starts a replacement for a node of `view`'s graph.
    public init(in view: RewriteView, nodes: [Node] = []) {
        self.nodes = nodes
        firstNewIndex = view.graph.values.count
        takenNames = view.names
    }

    /// Creates an initializer holding `tensor`; the name is made unique.
    public mutating func constant(_ tensor: Tensor, name: String) -> ValueID {
        let id = value(name: name, type: TensorType(dtype: tensor.dtype, shape: tensor.shape))
        newInitializers[id] = tensor
        return id
    }

    /// Creates a value for an intermediate result; the name is made unique. Its type is
    /// inferred after the rewrite when not given.
    public mutating func value(name: String, type: TensorType = .unknown) -> ValueID {
        let unique = Graph.claimName(name, in: &takenNames)
        newValues.append(Value(name: unique, type: type))
        return ValueID(firstNewIndex + newValues.count - 1)
    }

    /// Declares that the matched node's `output` is `value` from now on (every reader
    /// reads `value`). When `output` is a graph output its name is kept: `value` is renamed
    /// to it, and the rewriter skips the rewrite if `value` cannot be renamed.
    public mutating func alias(_ output: ValueID, to value: ValueID) {
        aliases[output] = value
    }
}
