import Foundation
import KilnCore
import KilnIR

/// Runs a static-shape graph from a plan compiled once: resolved evaluators, value slots and
/// a liveness-based arena (see ``MemoryPlan``).
///
/// The executor (plan and constants) is shared read-only; each run happens in an
/// ``ExecutionContext`` with its own arena, one per thread, like onnxruntime's session and
/// IO binding:
///
/// ```swift
/// let executor = try GraphExecutor(graph: graph, runner: ModuleSubgraphRunner(tree: tree))
/// let context = executor.makeContext()
/// try context.setInput("x", x); try context.run(); let y = try context.output("y")
/// let outputs = try executor.run(["x": x])      // a fresh context per call
/// ```
public struct GraphExecutor: Executable, ModelExecutor {
    /// The compiled plan.
    public let plan: ExecutionPlan
    /// Idle contexts of ``run(_:trace:)``.
    private let contexts = ContextPool()

    /// Compiles `graph`.
    ///
    /// - Parameters:
    ///   - graph: The CPU graph; `dpuSubgraph` nodes call `runner`.
    ///   - inputShapes: Shapes for inputs with symbolic dims, by name.
    ///   - runner: Runs accelerator subgraphs.
    ///   - threads: Intra-op threads per run.
    /// - Throws: `executorUnsupported` for control flow or a dynamic input shape, and what
    ///   verification and shape inference throw; `kernelMissing`.
    public init(
        graph: Graph, inputShapes: [String: [Int]] = [:], runner: any SubgraphRunner = NoSubgraphRunner(),
        threads: Int = 1
    ) throws {
        plan = try ExecutionPlan(graph: graph, inputShapes: inputShapes, runner: runner, threads: threads)
    }

    /// Why the graph executor cannot run `graph` with `inputShapes`, or `nil` when it can
    /// (no control flow; every input shape static once bound).
    public static func unsupportedReason(_ graph: Graph, inputShapes: [String: [Int]] = [:]) -> String? {
        if graph.hasControlFlow { return "the graph has If/Loop control flow" }
        for id in graph.inputs where graph.initializers[id] == nil && inputShapes[graph[id].name] == nil {
            if graph[id].type.staticShape == nil { return "input '\(graph[id].name)' has dynamic shape \(graph[id].type)" }
        }
        return nil
    }

    /// The memory plan.
    public var memoryPlan: MemoryPlan { plan.memoryPlan }
    /// The graph after shape inference.
    public var graph: Graph { plan.graph }
    /// ``memoryPlan``.
    public var plannedMemory: MemoryPlan? { plan.memoryPlan }
    /// `"graph"`.
    public var kindName: String { "graph" }

    /// A new context (its own arena) for runs on one thread.
    public func makeContext() -> ExecutionContext {
        ExecutionContext(plan: plan)
    }

    /// Runs once, in a context taken from the executor's pool (made on first use, returned
    /// after the run): repeated runs allocate no arena and build no step closures, and
    /// concurrent runs each get their own context.
    public func run(_ inputs: [String: Tensor], trace: TraceRecorder?) throws -> [String: Tensor] {
        let context = contexts.take() ?? makeContext()
        defer {
            context.trace = nil
            contexts.give(context)
        }
        context.trace = trace
        return try context.run(inputs)
    }

    /// ``CPUModule/entryFunction``.
    public var functionSymbols: [String] { [CPUModule.entryFunction] }

    /// Calls `main` with the inputs in graph-input order.
    public func invoke(_ symbol: String, _ inputs: [Tensor]) throws -> [Tensor] {
        try invokeByPosition(symbol, inputs)
    }
}

/// The idle ``ExecutionContext``s of one executor (one per thread that ran it concurrently).
private final class ContextPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [ExecutionContext] = []

    func take() -> ExecutionContext? {
        lock.withLock { idle.popLast() }
    }

    func give(_ context: ExecutionContext) {
        lock.withLock { idle.append(context) }
    }
}

/// An executor of a whole model: the graph executor or the VM.
public protocol ModelExecutor: Executable {
    /// The graph it runs.
    var graph: Graph { get }
    /// `graph` or `vm`.
    var kindName: String { get }
    /// The memory plan, when the executor has one (the graph executor).
    var plannedMemory: MemoryPlan? { get }

    /// Runs the model on `inputs` by name; records slices into `trace` when given.
    func run(_ inputs: [String: Tensor], trace: TraceRecorder?) throws -> [String: Tensor]
}

extension ModelExecutor {
    /// Runs without a trace.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        try run(inputs, trace: nil)
    }

    /// `main` with positional inputs (the graph's non-initializer inputs, in order).
    func invokeByPosition(_ symbol: String, _ inputs: [Tensor]) throws -> [Tensor] {
        guard symbol == CPUModule.entryFunction else {
            throw KilnError(.functionNotFound, "the model exports '\(CPUModule.entryFunction)', not '\(symbol)'")
        }
        let names = graph.inputs.filter { graph.initializers[$0] == nil }.map { graph[$0].name }
        guard names.count == inputs.count else {
            throw KilnError(.missingInput, "'\(symbol)' takes \(names.count) inputs (\(names)), got \(inputs.count)")
        }
        let outputs = try run(Dictionary(uniqueKeysWithValues: zip(names, inputs)))
        return try graph.outputs.map { id in
            guard let tensor = outputs[graph[id].name] else {
                throw KilnError(.invalidModel, "output '\(graph[id].name)' was not computed")
            }
            return tensor
        }
    }
}
