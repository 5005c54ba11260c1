import Foundation
import KilnCore

/// What kind of module a ``Module`` is; selects the ``Backend`` that decodes it.
///
/// An open set of names (not an enum) so that a back end outside Kiln can add its own kind.
public struct ModuleKind: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    /// The kind's name, as written in the artifact's module tree.
    public let rawValue: String

    /// Wraps a name.
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// The root: owns every constant.
    public static let metadata = ModuleKind(rawValue: "metadata")
    /// The CPU part of a model.
    public static let cpu = ModuleKind(rawValue: "cpu")
    /// Compiled DPU programs, one per subgraph.
    public static let dpu = ModuleKind(rawValue: "dpu")

    /// The name.
    public var description: String { rawValue }

    /// Decodes the name.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes the name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A unit of compiled code in a ``ModuleTree``: a name, a kind, the constants it needs and
/// the functions it exports, each by symbol.
///
/// Code and weights are kept apart (TVM's MetadataModule, seed 003): a module never
/// serializes a tensor. It names the constants it needs by symbol, the root
/// ``MetadataModule`` owns them all, and at load it hands each module exactly the constants
/// that module names, through ``initialize(constants:)``.
///
/// A new accelerator back end adds a `Module` type and a ``Backend`` that decodes it (see
/// ``BackendRegistry``).
public protocol Module: Sendable {
    /// The module's name, unique in its tree (e.g. `cpu0`).
    var name: String { get }
    /// The kind; the back end of this kind decodes the module's payload.
    var kind: ModuleKind { get }
    /// The symbols of the constants the module needs, sorted, without repeats.
    var constantSymbols: [String] { get }
    /// The symbols of the functions the module exports, unique in its tree.
    var functionSymbols: [String] { get }
    /// The constants handed to the module (by ``initialize(constants:)`` or, for a module
    /// built in memory, at construction), by symbol.
    var constants: [String: Tensor] { get }
    /// A few facts for `kiln show` (e.g. `"nodes": "12"`), by name.
    var facts: [String: String] { get }

    /// Takes the module's constants; ``MetadataModule`` calls it once per module at load.
    ///
    /// - Parameter constants: Exactly the tensors of ``constantSymbols``.
    /// - Throws: A ``KilnError`` when the constants do not fit the module's code.
    mutating func initialize(constants: [String: Tensor]) throws

    /// The module's code as bytes, written to its own section of the artifact. It holds no
    /// tensor: those are the metadata module's.
    ///
    /// - Throws: A ``KilnError`` when the module cannot be serialized.
    func payload() throws -> Data
}
