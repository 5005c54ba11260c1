import Foundation
import KilnCore
import KilnIR
import KilnPasses

/// Graph-executor plans the VM compiles for input shapes it has already run, so a model with
/// symbolic dimensions runs at static-graph speed once its shapes repeat.
///
/// When a run's input shapes (its *signature*) were seen before, the graph is specialized
/// for them: the shapes are bound, loops with a constant trip count are unrolled
/// (``Pass/unrollLoops``), everything that now depends on constants only (the `Shape` →
/// `Gather` → `Concat` → `Reshape` arithmetic of exported models, `Range`,
/// `ConstantOfShape`, `Expand` of constants) is folded with the interpreter's own
/// evaluators, and a ``GraphExecutor`` is compiled. Later
/// runs with that signature go to it: its memory plan, prepared kernels and packed weights
/// replace per-node allocation, and the folded nodes no longer run at all. Every kernel is
/// the one the VM would have called, on the same operands, so the outputs are the same bits.
///
/// A signature whose specialized graph is still dynamic (data-dependent shapes) or still has
/// control flow is remembered as such and keeps running on the bytecode. At most
/// ``maxPlans`` plans are kept (each holds its own packed weights and arena); later
/// signatures run on the bytecode.
final class ShapeSpecializations: @unchecked Sendable {
    /// Compiled plans kept at most.
    static let maxPlans = 4
    /// Signatures remembered at most (past it, those seen only once are forgotten).
    static let maxSignatures = 1024

    private enum Entry {
        /// Ran once on the bytecode: the next run with it compiles a plan (a shape seen
        /// once is not worth a compile).
        case seenOnce
        case compiled(GraphExecutor)
        /// Stays on the bytecode.
        case unsupported
    }

    private enum Decision {
        case run(GraphExecutor)
        case bytecode
        case compile
    }

    private let graph: Graph
    private let runner: any SubgraphRunner
    private let threads: Int
    private let lock = NSLock()
    private var entries: [[[Int]?]: Entry] = [:]
    private var planCount = 0

    /// Plans compiled so far.
    var compiledCount: Int { lock.withLock { planCount } }

    init(graph: Graph, runner: any SubgraphRunner, threads: Int) {
        self.graph = graph
        self.runner = runner
        self.threads = threads
    }

    /// The plan for `signature` (the shapes of the given inputs, in `names` order; `nil` for
    /// an input not given), compiled on the signature's second run; `nil` when the run stays
    /// on the bytecode.
    func executor(for signature: [[Int]?], names: [String]) -> GraphExecutor? {
        let decision: Decision = lock.withLock {
            switch entries[signature] {
            case .compiled(let executor)?:
                return .run(executor)
            case .unsupported?:
                return .bytecode
            case .seenOnce?:
                return planCount < Self.maxPlans ? .compile : .bytecode
            case nil:
                if entries.count >= Self.maxSignatures {
                    entries = entries.filter { if case .seenOnce = $0.value { false } else { true } }
                }
                entries[signature] = .seenOnce
                return .bytecode
            }
        }
        switch decision {
        case .run(let executor): return executor
        case .bytecode: return nil
        case .compile: break
        }
        var shapes: [String: [Int]] = [:]
        for (name, shape) in zip(names, signature) { if let shape { shapes[name] = shape } }
        let compiled = Self.specialize(graph, inputShapes: shapes, runner: runner, threads: threads)
        return lock.withLock {
            if case .compiled(let existing)? = entries[signature] { return existing }
            guard let compiled, planCount < Self.maxPlans else {
                entries[signature] = .unsupported
                return nil
            }
            planCount += 1
            entries[signature] = .compiled(compiled)
            return compiled
        }
    }

    /// What specializing does after binding the shapes: passes that change no bits.
    static let passes: [Pass] = [.unrollLoops, .foldConstants, .eliminateDeadCode]

    /// `graph` with `inputShapes` bound, loops of known trip count unrolled and constants
    /// folded, compiled for the graph executor; `nil` when it still has control flow or a
    /// dynamic shape (or does not compile: the bytecode then reports the error where it
    /// arises).
    static func specialize(
        _ graph: Graph, inputShapes: [String: [Int]], runner: any SubgraphRunner, threads: Int
    ) -> GraphExecutor? {
        // A plan takes an input an initializer shadows only in the initializer's shape: a
        // caller's tensor of another shape stays on the bytecode, which accepts it.
        for id in graph.inputs {
            if let initializer = graph.initializers[id], let shape = inputShapes[graph[id].name], shape != initializer.shape {
                return nil
            }
        }
        guard let bound = try? ShapeInference.infer(graph, bindings: inputShapes),
            let (specialized, _) = try? PassManager(passes).run(bound),
            GraphExecutor.unsupportedReason(specialized, inputShapes: inputShapes) == nil
        else { return nil }
        return try? GraphExecutor(graph: specialized, inputShapes: inputShapes, runner: runner, threads: threads)
    }
}
