import Foundation
import KilnCore

/// A ``ModuleSubgraphRunner`` that also dumps: every call of a subgraph a ``DPUModule``
/// runs goes through ``DPUModule/invokeDumping(_:_:inputNames:threads:nodeName:)`` and its
/// feature maps go to `sink`; the call's outputs are the dumped outputs dequantized, so the
/// run's results are those of the plain runner. Other calls (float bodies, other modules)
/// run as the base runner runs them, undumped.
public struct DumpingSubgraphRunner: SubgraphRunner {
    /// The runner whose tree, executables and float-body policy apply.
    public let base: ModuleSubgraphRunner
    /// Receives each DPU call's dump, from the executing thread.
    public let sink: @Sendable (SubgraphDump) -> Void

    /// Wraps `base`; `sink` must be thread-safe (see ``SubgraphDumpRecorder``).
    public init(base: ModuleSubgraphRunner, sink: @escaping @Sendable (SubgraphDump) -> Void) {
        self.base = base
        self.sink = sink
    }

    /// Runs `call`, dumping it when a DPU module runs it.
    public func run(_ call: SubgraphCall, inputs: [Tensor], threads: Int) throws -> [Tensor] {
        guard !base.executables.contains(where: { $0.functionSymbols.contains(call.symbol) }),
            let dpu = base.tree.module(exportingFunction: call.symbol) as? DPUModule
        else {
            return try base.run(call, inputs: inputs, threads: threads)
        }
        let names = call.body.map { body in body.inputs.map { body[$0].name } }
        let (outputs, dump) = try dpu.invokeDumping(
            call.symbol, inputs, inputNames: names, threads: threads, nodeName: call.nodeName)
        sink(dump)
        return outputs
    }
}

/// A thread-safe sink for ``DumpingSubgraphRunner``: keeps the first dump of each subgraph
/// and counts its calls (a subgraph in a loop body is called more than once).
public final class SubgraphDumpRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var first: [Int: SubgraphDump] = [:]
    private var counts: [Int: Int] = [:]

    /// An empty recorder.
    public init() {}

    /// Records `dump` (kept when it is its subgraph's first call).
    public func record(_ dump: SubgraphDump) {
        lock.lock()
        defer { lock.unlock() }
        if first[dump.subgraph] == nil { first[dump.subgraph] = dump }
        counts[dump.subgraph, default: 0] += 1
    }

    /// The first dump of each subgraph, by subgraph id.
    public var dumps: [SubgraphDump] {
        lock.lock()
        defer { lock.unlock() }
        return first.keys.sorted().compactMap { first[$0] }
    }

    /// How many times subgraph `id` was called.
    public func calls(of id: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return counts[id] ?? 0
    }
}
