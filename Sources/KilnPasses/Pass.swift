import Dispatch
import KilnCore
import KilnIR

/// A named graph-to-graph transformation.
///
/// Passes are pure: they never print, read the environment or touch files. A pipeline is
/// an array of passes run by ``PassManager``.
///
/// ```swift
/// let pipeline: [Pass] = [.foldConstants, .eliminateDeadCode]
/// let (graph, trace) = try PassManager(pipeline).run(graph, context: PassContext())
/// ```
public struct Pass: Sendable {
    /// The pass name, as it appears in traces (`FoldConstants`).
    public let name: String
    /// The transformation.
    public let run: @Sendable (Graph, PassContext) throws -> Graph

    /// Creates a pass.
    public init(_ name: String, run: @escaping @Sendable (Graph, PassContext) throws -> Graph) {
        self.name = name
        self.run = run
    }
}

/// What a pass may know besides the graph.
public struct PassContext: Sendable {
    /// Threads the constant folder may use.
    public var threads: Int
    /// Largest folded constant, in elements; bigger results stay computed at run time.
    public var maxFoldedElements: Int

    /// Creates a context.
    public init(threads: Int = 1, maxFoldedElements: Int = 1 << 20) {
        self.threads = threads
        self.maxFoldedElements = maxFoldedElements
    }
}

/// One pass's entry in a pipeline trace.
public struct PassRecord: Sendable {
    /// The pass name.
    public let name: String
    /// Wall time of the pass, in seconds.
    public let seconds: Double
    /// Node count before and after.
    public let nodesBefore: Int
    public let nodesAfter: Int
}

/// Runs a pipeline of passes, verifying the graph after each one.
public struct PassManager: Sendable {
    /// The passes, in order.
    public let passes: [Pass]
    /// Whether to run the ``Verifier`` after every pass (on by default; it is cheap).
    public var verifies: Bool

    /// Creates a manager.
    public init(_ passes: [Pass], verifies: Bool = true) {
        self.passes = passes
        self.verifies = verifies
    }

    /// Runs every pass in order.
    ///
    /// - Returns: the final graph and one record per pass.
    /// - Throws: what a pass throws, or `verificationFailed` naming the pass that broke an
    ///   invariant.
    public func run(_ graph: consuming Graph, context: PassContext = PassContext()) throws -> (Graph, [PassRecord]) {
        var current = graph
        var records: [PassRecord] = []
        for pass in passes {
            let start = DispatchTime.now().uptimeNanoseconds
            let before = current.nodes.count
            current = try pass.run(current, context)
            if verifies {
                do {
                    try Verifier.verify(current)
                } catch let error as KilnError {
                    throw KilnError(.verificationFailed, "after pass \(pass.name): \(error.message)")
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            records.append(PassRecord(name: pass.name, seconds: seconds, nodesBefore: before, nodesAfter: current.nodes.count))
        }
        return (current, records)
    }
}
