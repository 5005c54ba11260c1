import KilnCore

/// The root of a ``ModuleTree``: owns every constant of an artifact and initializes each
/// child module with the constants it names, by symbol.
///
/// This is TVM's `MetadataModule` (seed 003): weights are stored once, apart from code, and
/// dispatched per module at load, so a module's code never embeds its weights and
/// recompiling a module (on-the-fly quantization, another target) leaves the constants
/// alone.
///
/// ```swift
/// var metadata = MetadataModule(constants: constants, children: [cpuModule, dpuModule])
/// try metadata.initializeChildren()   // each child now holds exactly the constants it names
/// ```
public struct MetadataModule: Sendable {
    /// The root's name in the module tree.
    public static let rootName = "metadata"

    /// Every constant, by symbol.
    public private(set) var constants: [String: Tensor]
    /// The child modules, in artifact order.
    public private(set) var children: [any Module]

    /// A metadata module over `constants` and `children`; call ``initializeChildren()``
    /// before running a child.
    public init(constants: [String: Tensor], children: [any Module]) {
        self.constants = constants
        self.children = children
    }

    /// Hands each child exactly the constants it names.
    ///
    /// - Throws: `constantMissing` when a child names a symbol this module does not hold;
    ///   whatever a child's ``Module/initialize(constants:)`` throws.
    public mutating func initializeChildren() throws {
        for index in children.indices {
            var child = children[index]
            var handed: [String: Tensor] = [:]
            for symbol in child.constantSymbols {
                guard let tensor = constants[symbol] else {
                    throw KilnError(
                        .constantMissing,
                        "module '\(child.name)' (\(child.kind)) needs constant '\(symbol)', "
                            + "which the metadata module does not hold")
                }
                handed[symbol] = tensor
            }
            try child.initialize(constants: handed)
            children[index] = child
        }
    }

    /// The symbols no child names (kept, but dead weight in the artifact), sorted.
    public var unusedSymbols: [String] {
        let used = Set(children.flatMap(\.constantSymbols))
        return constants.keys.filter { !used.contains($0) }.sorted()
    }

    /// The total size of the constants in bytes.
    public var constantBytes: Int {
        constants.values.reduce(0) { $0 + $1.byteCount }
    }
}
