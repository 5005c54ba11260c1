import KilnCore

/// The module tree of a compiled model: a root ``MetadataModule`` owning every constant,
/// with the CPU and accelerator modules as its children.
///
/// ```
/// metadata  (constants)
/// ├── cpu0  (kind cpu: the CPU graph; calls dpu_subgraph_0 …)
/// └── dpu0  (kind dpu: one program per subgraph, for one fingerprint)
/// ```
///
/// Build one from modules that hold their constants (``CPUModule/init(name:graph:)`` does),
/// write it with ``ArtifactWriter``, load it with ``ArtifactReader``.
public struct ModuleTree: Sendable {
    /// The root; its children are the modules.
    public private(set) var root: MetadataModule

    /// A tree over `modules`: their constants are gathered into the metadata module, which
    /// then initializes each module with the constants it names.
    ///
    /// - Parameter modules: Modules whose ``Module/constants`` hold what they name.
    /// - Throws: `artifactMalformed` for two modules with one name or one function
    ///   symbol, or one constant symbol naming two different tensors; `constantMissing`
    ///   when a module names a constant no module holds.
    public init(modules: [any Module]) throws {
        var constants: [String: Tensor] = [:]
        for module in modules {
            for (symbol, tensor) in module.constants {
                if let existing = constants[symbol], existing != tensor {
                    throw KilnError(
                        .artifactMalformed, "constant '\(symbol)' names two different tensors (module '\(module.name)')")
                }
                constants[symbol] = tensor
            }
        }
        try self.init(root: MetadataModule(constants: constants, children: modules))
    }

    /// A tree over a metadata module, whose children it initializes.
    ///
    /// - Throws: as ``init(modules:)``.
    public init(root: MetadataModule) throws {
        try Self.checkNames(of: root.children)
        var root = root
        try root.initializeChildren()
        self.root = root
    }

    /// The child modules, in order.
    public var modules: [any Module] { root.children }

    /// The module named `name`.
    public func module(named name: String) -> (any Module)? {
        root.children.first { $0.name == name }
    }

    /// The module that exports the function `symbol` (TVM's `GetFunction` through imports).
    public func module(exportingFunction symbol: String) -> (any Module)? {
        root.children.first { $0.functionSymbols.contains(symbol) }
    }

    private static func checkNames(of modules: [any Module]) throws {
        var names: Set<String> = [MetadataModule.rootName]
        var functions: [String: String] = [:]
        for module in modules {
            guard names.insert(module.name).inserted else {
                throw KilnError(.artifactMalformed, "two modules are named '\(module.name)'")
            }
            for symbol in module.functionSymbols {
                if let other = functions[symbol] {
                    throw KilnError(
                        .artifactMalformed, "modules '\(other)' and '\(module.name)' both export function '\(symbol)'")
                }
                functions[symbol] = module.name
            }
        }
    }
}
