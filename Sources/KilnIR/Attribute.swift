import KilnCore

/// A typed attribute value.
public enum AttributeValue: Hashable, Sendable {
    case int(Int)
    case float(Float)
    case string(String)
    case ints([Int])
    case floats([Float])
    case strings([String])
    case tensor(Tensor)
    case graph(Graph)
}

/// A node's attributes by name, with typed accessors that report what is wrong.
public struct Attributes: Hashable, Sendable {
    /// The attributes by name.
    public var values: [String: AttributeValue]

    /// Creates an attribute set.
    public init(_ values: [String: AttributeValue] = [:]) {
        self.values = values
    }

    /// The attribute value or `nil`.
    public subscript(name: String) -> AttributeValue? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// Whether the attribute is present.
    public func has(_ name: String) -> Bool { values[name] != nil }

    /// An integer attribute, or `defaultValue` when absent.
    ///
    /// - Throws: `invalidModel` when present with another type.
    public func int(_ name: String, default defaultValue: Int) throws -> Int {
        try int(name) ?? defaultValue
    }

    /// An integer attribute, or `nil` when absent.
    public func int(_ name: String) throws -> Int? {
        switch values[name] {
        case nil: return nil
        case .int(let value): return value
        case let other?: throw mismatch(name, "int", other)
        }
    }

    /// A float attribute, or `defaultValue` when absent.
    public func float(_ name: String, default defaultValue: Float) throws -> Float {
        switch values[name] {
        case nil: return defaultValue
        case .float(let value): return value
        case .int(let value): return Float(value)
        case let other?: throw mismatch(name, "float", other)
        }
    }

    /// A string attribute, or `defaultValue` when absent.
    public func string(_ name: String, default defaultValue: String) throws -> String {
        switch values[name] {
        case nil: return defaultValue
        case .string(let value): return value
        case let other?: throw mismatch(name, "string", other)
        }
    }

    /// An integer-list attribute, or `nil` when absent.
    public func ints(_ name: String) throws -> [Int]? {
        switch values[name] {
        case nil: return nil
        case .ints(let value): return value
        case .int(let value): return [value]
        case let other?: throw mismatch(name, "ints", other)
        }
    }

    /// A float-list attribute, or `nil` when absent.
    public func floats(_ name: String) throws -> [Float]? {
        switch values[name] {
        case nil: return nil
        case .floats(let value): return value
        case .float(let value): return [value]
        case let other?: throw mismatch(name, "floats", other)
        }
    }

    /// A string-list attribute, or `nil` when absent.
    public func strings(_ name: String) throws -> [String]? {
        switch values[name] {
        case nil: return nil
        case .strings(let value): return value
        case let other?: throw mismatch(name, "strings", other)
        }
    }

    /// A tensor attribute, or `nil` when absent.
    public func tensor(_ name: String) throws -> Tensor? {
        switch values[name] {
        case nil: return nil
        case .tensor(let value): return value
        case let other?: throw mismatch(name, "tensor", other)
        }
    }

    /// A graph attribute, or `nil` when absent.
    public func graph(_ name: String) throws -> Graph? {
        switch values[name] {
        case nil: return nil
        case .graph(let value): return value
        case let other?: throw mismatch(name, "graph", other)
        }
    }

    private func mismatch(_ name: String, _ expected: String, _ actual: AttributeValue) -> KilnError {
        KilnError(.invalidModel, "attribute '\(name)' should be \(expected), found \(actual.kindName)")
    }
}

extension AttributeValue {
    /// The attribute's kind, as a word.
    public var kindName: String {
        switch self {
        case .int: "int"
        case .float: "float"
        case .string: "string"
        case .ints: "ints"
        case .floats: "floats"
        case .strings: "strings"
        case .tensor: "tensor"
        case .graph: "graph"
        }
    }
}
