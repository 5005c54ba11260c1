import KilnCore
import KilnIR
import KilnInterpreter

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

/// Runs subgraphs by calling the module of a ``ModuleTree`` that exports `dpu_subgraph_<id>`:
/// a ``DPUModule`` runs its program on the DPU emulator; any other module must be
/// ``Executable`` (or one of `executables` exports the symbol).
///
/// A subgraph no module exports is the clear error `subgraphRunnerMissing`, unless
/// `floatBodies` is set: then it runs its float `body` on the interpreter. That is what an
/// uncalibrated artifact does (its DPU module holds no program yet) and what a subgraph the
/// DPU compiler refused does; it is never silent: `kiln show` and the session's phase say so.
public struct ModuleSubgraphRunner: SubgraphRunner {
    /// The tree the symbols resolve in.
    public let tree: ModuleTree
    /// Callable modules supplied by the caller, consulted before the tree's own modules.
    public let executables: [any Executable]
    /// Whether a subgraph without a program runs its float body.
    public let floatBodies: Bool

    /// A runner over `tree`, with extra callable modules.
    public init(tree: ModuleTree, executables: [any Executable] = [], floatBodies: Bool = false) {
        self.tree = tree
        self.executables = executables
        self.floatBodies = floatBodies
    }

    /// Calls the module exporting `call.symbol` (or interprets the body; see the type).
    public func run(_ call: SubgraphCall, inputs: [Tensor], threads: Int) throws -> [Tensor] {
        if let executable = executables.first(where: { $0.functionSymbols.contains(call.symbol) }) {
            return try executable.invoke(call.symbol, inputs)
        }
        guard let module = tree.module(exportingFunction: call.symbol) else {
            if floatBodies, let body = call.body {
                return try Self.runFloat(body, inputs: inputs, threads: threads)
            }
            throw KilnError(
                .subgraphRunnerMissing,
                "node '\(call.nodeName)' calls \(call.symbol), which no module of the artifact exports"
                    + (call.body == nil ? "" : " (the artifact is not compiled for the DPU yet: calibrate it)"))
        }
        if let dpu = module as? DPUModule {
            let names = call.body.map { body in body.inputs.map { body[$0].name } }
            return try dpu.invoke(call.symbol, inputs, inputNames: names, threads: threads)
        }
        guard let executable = module as? any Executable else {
            throw KilnError(
                .subgraphRunnerMissing,
                "node '\(call.nodeName)' calls \(call.symbol) of module '\(module.name)' (kind \(module.kind)), "
                    + "which this build cannot run: no runner is registered for \(module.kind) programs")
        }
        return try executable.invoke(call.symbol, inputs)
    }

    /// Runs a float body on the interpreter, inputs in body-input order.
    static func runFloat(_ body: Graph, inputs: [Tensor], threads: Int) throws -> [Tensor] {
        guard body.inputs.count == inputs.count else {
            throw KilnError(
                .missingInput, "subgraph '\(body.name)' takes \(body.inputs.count) inputs, got \(inputs.count)")
        }
        var feed: [String: Tensor] = [:]
        for (id, tensor) in zip(body.inputs, inputs) where body.initializers[id] == nil {
            feed[body[id].name] = tensor
        }
        let outputs = try Interpreter(graph: body, threads: threads).run(feed)
        return try body.outputs.map { id in
            guard let tensor = outputs[body[id].name] ?? body.initializers[id] ?? feed[body[id].name] else {
                throw KilnError(.invalidModel, "subgraph '\(body.name)': output '\(body[id].name)' was not computed")
            }
            return tensor
        }
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
