import KilnCore

/// What a shape rule knows about one node when it runs.
public struct ShapeContext {
    /// The node being inferred.
    public let node: Node
    /// The types of the node's inputs (`nil` for an omitted optional input).
    public let inputTypes: [TensorType?]
    /// Input values known at compile time (initializers, folded constants).
    public let constants: [Tensor?]
    /// Inputs that are 1-D shape tensors whose elements are known as dimensions, possibly
    /// symbolic (the result of `Shape`, and of `Gather`/`Concat`/`Slice` over it).
    public let shapeValues: [[Dim]?]

    /// Creates a context.
    public init(node: Node, inputTypes: [TensorType?], constants: [Tensor?], shapeValues: [[Dim]?]) {
        self.node = node
        self.inputTypes = inputTypes
        self.constants = constants
        self.shapeValues = shapeValues
    }

    /// The type of input `index`, or `.unknown`.
    public func type(_ index: Int) -> TensorType {
        index < inputTypes.count ? inputTypes[index] ?? .unknown : .unknown
    }

    /// Whether input `index` is present.
    public func hasInput(_ index: Int) -> Bool {
        index < node.inputs.count && node.inputs[index] != nil
    }

    /// The compile-time value of input `index`, if known.
    public func constant(_ index: Int) -> Tensor? {
        index < constants.count ? constants[index] : nil
    }

    /// The elements of a 1-D integer input as dimensions: known numbers from a constant,
    /// or the propagated (possibly symbolic) shape value.
    public func dims(_ index: Int) -> [Dim]? {
        if let tensor = constant(index), let ints = tensor.integerScalars() {
            return ints.map(Dim.known)
        }
        return index < shapeValues.count ? shapeValues[index] : nil
    }

    /// The integer elements of a constant input, if known.
    public func ints(_ index: Int) -> [Int]? {
        constant(index)?.integerScalars()
    }
}

/// What a shape rule infers for one output.
public struct InferredOutput {
    /// The output's type.
    public var type: TensorType
    /// For a 1-D integer output that holds dimensions (e.g. `Shape`'s): those dimensions.
    public var shapeValue: [Dim]?

    /// Creates an inferred output.
    public init(_ type: TensorType, shapeValue: [Dim]? = nil) {
        self.type = type
        self.shapeValue = shapeValue
    }
}

/// Infers the types of a node's outputs from its inputs. A rule throws `shapeMismatch`
/// only for inputs that can never be valid; unknowns produce unknown outputs.
public typealias ShapeRule = @Sendable (ShapeContext) throws -> [InferredOutput]
