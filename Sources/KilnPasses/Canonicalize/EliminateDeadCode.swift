import KilnIR

extension Pass {
    /// Removes nodes no graph output depends on, and values nothing uses any more.
    public static let eliminateDeadCode = Pass("EliminateDeadCode") { graph, _ in
        graph.compacted()
    }
}
