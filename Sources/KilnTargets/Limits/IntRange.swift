/// An inclusive range of integers, such as the kernel-size limit `1..16`.
///
/// It encodes as `{"min": 1, "max": 16}` and prints as `1..16` (or `3` when both ends
/// agree), the form partition reasons use: "kernel 9x9 exceeds the 1..16 limit".
public struct IntRange: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The smallest accepted value.
    public var min: Int
    /// The largest accepted value.
    public var max: Int

    /// Creates the range `min...max`.
    public init(_ min: Int, _ max: Int) {
        precondition(min <= max, "IntRange needs min <= max, got \(min)..\(max)")
        self.min = min
        self.max = max
    }

    /// Whether `value` lies in the range.
    public func contains(_ value: Int) -> Bool { (min...max).contains(value) }

    /// `1..16`, or `3` for a single value.
    public var description: String { min == max ? "\(min)" : "\(min)..\(max)" }
}

/// The sizes an operator accepts along one axis: a range (`1..16`) or a list (`{1, 2, 3, 5, 7}`).
///
/// It encodes as `{"min": 1, "max": 16}` or `{"values": [1, 2, 3, 5, 7]}`.
public enum AllowedSizes: Codable, Sendable, Hashable, CustomStringConvertible {
    /// Every size in the range.
    case range(IntRange)
    /// Only the listed sizes, in ascending order.
    case values([Int])

    /// Whether `size` is accepted.
    public func contains(_ size: Int) -> Bool {
        switch self {
        case .range(let range): range.contains(size)
        case .values(let values): values.contains(size)
        }
    }

    /// `1..16` or `{1, 2, 3, 5, 7}`.
    public var description: String {
        switch self {
        case .range(let range): range.description
        case .values(let values) where values.count == 1: "\(values[0])"
        case .values(let values): "{" + values.map(String.init).joined(separator: ", ") + "}"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case values
    }

    /// Decodes `{"values": […]}` or `{"min": …, "max": …}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let values = try container.decodeIfPresent([Int].self, forKey: .values) {
            self = .values(values)
        } else {
            self = .range(try IntRange(from: decoder))
        }
    }

    /// Encodes `{"values": […]}` or `{"min": …, "max": …}`.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .range(let range):
            try range.encode(to: encoder)
        case .values(let values):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(values, forKey: .values)
        }
    }
}
