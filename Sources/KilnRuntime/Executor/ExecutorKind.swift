import KilnCore
import KilnIR

/// Which executor runs a model (`kiln run --executor`).
public enum ExecutorKind: String, CaseIterable, Sendable {
    /// The graph executor when every shape is static and there is no control flow, else the VM.
    case auto
    /// ``GraphExecutor``: static shapes, a memory plan.
    case graph
    /// ``VirtualMachine``: bytecode; dynamic shapes, `If` and `Loop`.
    case vm

    /// Builds the executor of this kind for `graph`.
    ///
    /// - Parameters:
    ///   - graph: The CPU graph.
    ///   - inputShapes: Shapes bound for the graph executor (inputs with symbolic dims).
    ///   - runner: Runs the graph's accelerator subgraphs.
    ///   - threads: Intra-op threads.
    /// - Throws: `executorUnsupported` when `.graph` cannot run the graph; compile errors.
    public func makeExecutor(
        for graph: Graph, inputShapes: [String: [Int]] = [:], runner: any SubgraphRunner = NoSubgraphRunner(),
        threads: Int = 1
    ) throws -> any ModelExecutor {
        switch self {
        case .graph:
            return try GraphExecutor(graph: graph, inputShapes: inputShapes, runner: runner, threads: threads)
        case .vm:
            return try VirtualMachine(graph: graph, runner: runner, threads: threads)
        case .auto:
            if GraphExecutor.unsupportedReason(graph) == nil {
                return try GraphExecutor(graph: graph, runner: runner, threads: threads)
            }
            return try VirtualMachine(graph: graph, runner: runner, threads: threads)
        }
    }
}

extension CPUModule {
    /// An executor for this module's entry function, calling accelerator subgraphs through
    /// `runner`.
    ///
    /// - Throws: `constantMissing` when the module was not initialized; what
    ///   ``ExecutorKind/makeExecutor(for:inputShapes:runner:threads:)`` throws.
    public func makeExecutor(
        _ kind: ExecutorKind = .auto, runner: any SubgraphRunner, inputShapes: [String: [Int]] = [:], threads: Int = 1
    ) throws -> any ModelExecutor {
        guard let graph else {
            throw KilnError(.constantMissing, "CPU module '\(name)' is not initialized (no constants handed to it)")
        }
        return try kind.makeExecutor(for: graph, inputShapes: inputShapes, runner: runner, threads: threads)
    }
}

extension Artifact {
    /// The artifact's CPU module (the one exporting ``CPUModule/entryFunction``).
    ///
    /// - Throws: `functionNotFound` when no CPU module exports it.
    public func entryModule() throws -> CPUModule {
        guard let module = tree.module(exportingFunction: CPUModule.entryFunction) as? CPUModule else {
            throw KilnError(.functionNotFound, "the artifact has no CPU module exporting '\(CPUModule.entryFunction)'")
        }
        return module
    }

    /// An executor for the artifact's entry function; accelerator subgraphs run through the
    /// module tree (``ModuleSubgraphRunner``) unless `runner` is given.
    public func makeExecutor(
        _ kind: ExecutorKind = .auto, runner: (any SubgraphRunner)? = nil, inputShapes: [String: [Int]] = [:],
        threads: Int = 1
    ) throws -> any ModelExecutor {
        try entryModule().makeExecutor(
            kind, runner: runner ?? ModuleSubgraphRunner(tree: tree), inputShapes: inputShapes, threads: threads)
    }
}
