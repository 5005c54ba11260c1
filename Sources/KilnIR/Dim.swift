import KilnCore

/// One dimension of a tensor type: a number, a named symbol (`batch`), or unknown.
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    case known(Int)
    case symbol(String)
    case unknown

    /// The value, if known.
    public var value: Int? {
        if case .known(let value) = self { return value }
        return nil
    }

    public var description: String {
        switch self {
        case .known(let value): String(value)
        case .symbol(let name): name
        case .unknown: "?"
        }
    }
}

/// The static type of a value: its dtype and shape, either of which may be unknown.
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    /// Element type, `nil` when not inferred.
    public var dtype: DType?
    /// Dimensions, `nil` when even the rank is unknown.
    public var shape: [Dim]?

    /// Creates a type.
    public init(dtype: DType?, shape: [Dim]?) {
        self.dtype = dtype
        self.shape = shape
    }

    /// A fully known type.
    public init(dtype: DType, shape: [Int]) {
        self.init(dtype: dtype, shape: shape.map(Dim.known))
    }

    /// Nothing known.
    public static let unknown = TensorType(dtype: nil, shape: nil)

    /// The concrete shape when every dimension is known.
    public var staticShape: [Int]? {
        guard let shape else { return nil }
        var result: [Int] = []
        for dim in shape {
            guard let value = dim.value else { return nil }
            result.append(value)
        }
        return result
    }

    /// `float32[batch, 3, 224, 224]`, `float32[*]` for unknown rank, `?` for nothing known.
    public var description: String {
        let typeText = dtype.map(\.rawValue) ?? "?"
        guard let shape else { return "\(typeText)[*]" }
        return "\(typeText)[\(shape.map(\.description).joined(separator: ", "))]"
    }
}
