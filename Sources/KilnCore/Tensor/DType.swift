/// The element types a ``Tensor`` can hold.
///
/// The raw value is the lowercase name used in the text IR and in error messages.
public enum DType: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    case float32
    case float16
    case float64
    case int8
    case uint8
    case int16
    case uint16
    case int32
    case uint32
    case int64
    case uint64
    case bool

    /// Size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .bool, .int8, .uint8: 1
        case .float16, .int16, .uint16: 2
        case .float32, .int32, .uint32: 4
        case .float64, .int64, .uint64: 8
        }
    }

    /// Whether the type is a floating-point type.
    public var isFloatingPoint: Bool {
        self == .float32 || self == .float16 || self == .float64
    }

    /// Whether the type is a signed or unsigned integer type (not `bool`).
    public var isInteger: Bool {
        !isFloatingPoint && self != .bool
    }

    public var description: String { rawValue }
}
