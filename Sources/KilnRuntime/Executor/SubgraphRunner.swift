import KilnCore
import KilnIR

/// One call of an accelerator subgraph: what a `dpuSubgraph` node of the CPU graph asks for.
public struct SubgraphCall: Sendable {
    /// The subgraph's id (the node's `id` attribute).
    public let id: Int
    /// The function that runs it, `dpu_subgraph_<id>` (``DPUModule/functionSymbol(subgraph:)``).
    public let symbol: String
    /// The calling node's name (for errors and traces).
    public let nodeName: String
    /// The float body the partitioner kept on the node, when it has one.
    public let body: Graph?

    /// A call of subgraph `id` from node `nodeName`.
    public init(id: Int, nodeName: String, body: Graph?) {
        self.id = id
        symbol = DPUModule.functionSymbol(subgraph: id)
        self.nodeName = nodeName
        self.body = body
    }

    /// The call a `dpuSubgraph` node makes.
    ///
    /// - Throws: `invalidModel` when the node has no integer `id`.
    init(node: Node) throws {
        guard let id = try node.attributes.int("id") else {
            throw KilnError(.invalidModel, "[\(node.op)] node '\(node.name)' has no 'id' attribute")
        }
        self.init(id: id, nodeName: node.name, body: try node.attributes.graph("body"))
    }
}

/// The seam between the executors and accelerators: runs the accelerator subgraphs that the
/// CPU graph's `dpuSubgraph` nodes call.
///
/// Both executors (``GraphExecutor`` and ``VirtualMachine``) hand every `dpuSubgraph` node
/// to one runner. The runner Kiln uses by default is ``ModuleSubgraphRunner``: it resolves
/// `dpu_subgraph_<id>` through the module tree to the module exporting it, and calls it when
/// that module is ``Executable``. A back end that runs programs (the DPU emulator) conforms
/// its module to ``Executable``, or supplies its own runner. Runners are shared by every
/// execution context, so they must be thread-safe.
public protocol SubgraphRunner: Sendable {
    /// Runs `call` on `inputs` (one per node input) and returns one tensor per node output.
    ///
    /// - Throws: `subgraphRunnerMissing` when the runner cannot run this subgraph; what the
    ///   accelerator throws.
    func run(_ call: SubgraphCall, inputs: [Tensor], threads: Int) throws -> [Tensor]
}

/// A module whose functions can be called: the loaded, initialized form of a ``Module``.
public protocol Executable: Sendable {
    /// The functions ``invoke(_:_:)`` accepts.
    var functionSymbols: [String] { get }

    /// Calls function `symbol` with `inputs` (positional, in the function's input order).
    ///
    /// - Returns: One tensor per function output, owned by the caller.
    /// - Throws: `functionNotFound` for a symbol not in ``functionSymbols``; what running throws.
    func invoke(_ symbol: String, _ inputs: [Tensor]) throws -> [Tensor]
}

/// Runs subgraphs by calling the module of a ``ModuleTree`` that exports `dpu_subgraph_<id>`,
/// when that module is ``Executable`` (or one of `executables` exports it).
///
/// Kiln's `DPUModule` holds programs but does not run them (the emulator lives in
/// `KilnDPU`); so with the built-in back ends, calling a DPU subgraph is the clear error
/// `subgraphRunnerMissing`, never a silent float fallback.
public struct ModuleSubgraphRunner: SubgraphRunner {
    /// The tree the symbols resolve in.
    public let tree: ModuleTree
    /// Callable modules supplied by the caller (e.g. a DPU module wrapped with its emulator),
    /// consulted before the tree's own modules.
    public let executables: [any Executable]

    /// A runner over `tree`, with extra callable modules.
    public init(tree: ModuleTree, executables: [any Executable] = []) {
        self.tree = tree
        self.executables = executables
    }

    /// Calls the module exporting `call.symbol`.
    public func run(_ call: SubgraphCall, inputs: [Tensor], threads: Int) throws -> [Tensor] {
        if let executable = executables.first(where: { $0.functionSymbols.contains(call.symbol) }) {
            return try executable.invoke(call.symbol, inputs)
        }
        guard let module = tree.module(exportingFunction: call.symbol) else {
            throw KilnError(
                .subgraphRunnerMissing,
                "node '\(call.nodeName)' calls \(call.symbol), which no module of the artifact exports")
        }
        guard let executable = module as? any Executable else {
            throw KilnError(
                .subgraphRunnerMissing,
                "node '\(call.nodeName)' calls \(call.symbol) of module '\(module.name)' (kind \(module.kind)), "
                    + "which this build cannot run: no runner is registered for \(module.kind) programs")
        }
        return try executable.invoke(call.symbol, inputs)
    }
}

/// A runner for graphs that call no subgraph: any call is `subgraphRunnerMissing`.
public struct NoSubgraphRunner: SubgraphRunner {
    /// Creates the runner.
    public init() {}

    /// Always throws `subgraphRunnerMissing`.
    public func run(_ call: SubgraphCall, inputs: [Tensor], threads: Int) throws -> [Tensor] {
        throw KilnError(
            .subgraphRunnerMissing, "node '\(call.nodeName)' calls \(call.symbol), but no subgraph runner was given")
    }
}
