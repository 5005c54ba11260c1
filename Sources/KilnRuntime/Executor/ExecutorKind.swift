import KilnCore
import KilnIR
import KilnPasses

/// Which executor runs a model (`kiln run --executor`).
public enum ExecutorKind: String, CaseIterable, Sendable {
    /// The graph executor when every shape is static and there is no control flow, else the
    /// VM, which compiles a graph-executor plan for input shapes that repeat (see
    /// ``VirtualMachine/init(graph:runner:threads:specializingShapes:)``).
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
    ///   - optimization: The graph optimizations applied first (``GraphOptimization/all``:
    ///     ``Pass/cpuOptimization``; `.none` runs the graph exactly as given).
    /// - Throws: `executorUnsupported` when `.graph` cannot run the graph; compile errors.
    public func makeExecutor(
        for graph: consuming Graph, inputShapes: [String: [Int]] = [:], runner: any SubgraphRunner = NoSubgraphRunner(),
        threads: Int = 1, optimization: GraphOptimization = .all
    ) throws -> any ModelExecutor {
        let graph = try optimization.apply(to: graph)
        switch self {
        case .graph:
            return try GraphExecutor(graph: graph, inputShapes: inputShapes, runner: runner, threads: threads)
        case .vm:
            return try VirtualMachine(graph: graph, runner: runner, threads: threads)
        case .auto:
            if GraphExecutor.unsupportedReason(graph) == nil {
                return try GraphExecutor(graph: graph, runner: runner, threads: threads)
            }
            return try VirtualMachine(graph: graph, runner: runner, threads: threads, specializingShapes: true)
        }
    }
}

/// How much a runtime rewrites a graph before running it (onnxruntime's graph optimization
/// level).
public enum GraphOptimization: String, CaseIterable, Sendable {
    /// The graph as given: results equal the interpreter's bit for bit.
    case none
    /// ``Pass/cpuOptimization``: batch norms folded, conv epilogues fused, weights packed.
    case all

    /// `graph` after this level's passes.
    public func apply(to graph: consuming Graph) throws -> Graph {
        switch self {
        case .none: return graph
        case .all: return try PassManager(Pass.cpuOptimization).run(graph).0
        }
    }
}

extension CPUModule {
    /// An executor for this module's entry function, calling accelerator subgraphs through
    /// `runner`.
    ///
    /// - Throws: `constantMissing` when the module was not initialized; what
    ///   ``ExecutorKind/makeExecutor(for:inputShapes:runner:threads:optimization:)`` throws.
    public func makeExecutor(
        _ kind: ExecutorKind = .auto, runner: any SubgraphRunner, inputShapes: [String: [Int]] = [:], threads: Int = 1,
        optimization: GraphOptimization = .all
    ) throws -> any ModelExecutor {
        guard let graph else {
            throw KilnError(.constantMissing, "CPU module '\(name)' is not initialized (no constants handed to it)")
        }
        return try kind.makeExecutor(
            for: graph, inputShapes: inputShapes, runner: runner, threads: threads, optimization: optimization)
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
    /// module tree (``ModuleSubgraphRunner``: DPU programs on the emulator; in an
    /// uncalibrated artifact, or for a subgraph without a program, the float body) unless
    /// `runner` is given.
    ///
    /// - Throws: `dpuTargetMismatch` when the artifact was loaded with `allowRecompile` for
    ///   another fingerprint and has DPU programs (``InferenceSession`` recompiles them);
    ///   what ``CPUModule/makeExecutor(_:runner:inputShapes:threads:optimization:)`` throws.
    public func makeExecutor(
        _ kind: ExecutorKind = .auto, runner: (any SubgraphRunner)? = nil, inputShapes: [String: [Int]] = [:],
        threads: Int = 1, optimization: GraphOptimization = .all
    ) throws -> any ModelExecutor {
        if runner == nil, needsRecompile, hasDPUPrograms {
            throw KilnError(
                .dpuTargetMismatch,
                "the artifact's DPU programs were compiled for \(header.target) (fingerprint \(header.fingerprint)), "
                    + "not the chosen target; recompile them (InferenceSession with allowRecompile, or kiln compile)")
        }
        return try entryModule().makeExecutor(
            kind, runner: runner ?? ModuleSubgraphRunner(tree: tree, floatBodies: true), inputShapes: inputShapes,
            threads: threads, optimization: optimization)
    }

    /// Whether any DPU module of the tree holds a program.
    public var hasDPUPrograms: Bool {
        tree.modules.contains { ($0 as? DPUModule).map { !$0.programs.isEmpty } ?? false }
    }
}
