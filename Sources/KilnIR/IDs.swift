/// The index of a ``Value`` in its ``Graph``.
public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Position in ``Graph/values``.
    public let raw: Int32
    /// Creates an id from an index into ``Graph/values``.
    public init(_ index: Int) { raw = Int32(index) }
    /// The index into ``Graph/values``.
    public var index: Int { Int(raw) }
    public static func < (lhs: ValueID, rhs: ValueID) -> Bool { lhs.raw < rhs.raw }
    public var description: String { "%\(raw)" }
}

/// The index of a ``Node`` in its ``Graph``.
public struct NodeID: Hashable, Comparable, Sendable {
    /// Position in ``Graph/nodes``.
    public let raw: Int32
    /// Creates an id from an index into ``Graph/nodes``.
    public init(_ index: Int) { raw = Int32(index) }
    /// The index into ``Graph/nodes``.
    public var index: Int { Int(raw) }
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.raw < rhs.raw }
}
