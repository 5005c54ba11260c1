/// A named tensor flowing through a graph: a graph input, an initializer or a node output.
public struct Value: Hashable, Sendable {
    /// The ONNX name; unique within a graph.
    public var name: String
    /// The inferred or declared type.
    public var type: TensorType

    /// Creates a value.
    public init(name: String, type: TensorType = .unknown) {
        self.name = name
        self.type = type
    }
}
