/// One operation in a ``Graph``.
public struct Node: Hashable, Sendable {
    /// The node's name (from ONNX, or generated); used in messages and reports.
    public var name: String
    /// What the node computes.
    public var op: OpKind
    /// Operand values; `nil` marks an omitted optional input.
    public var inputs: [ValueID?]
    /// Result values; `nil` marks an optional output nobody asked for.
    public var outputs: [ValueID?]
    /// The op's attributes (ONNX names, normalized by the importer to the newest op version).
    public var attributes: Attributes

    /// Creates a node.
    public init(
        name: String, op: OpKind, inputs: [ValueID?], outputs: [ValueID?],
        attributes: Attributes = Attributes()
    ) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// The input at `index`, or `nil` when absent or omitted.
    public func input(_ index: Int) -> ValueID? {
        index < inputs.count ? inputs[index] : nil
    }
}
