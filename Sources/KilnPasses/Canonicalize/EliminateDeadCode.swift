import KilnIR

extension Pass {
    /// Removes nodes no graph output depends on, values nothing uses any more, and nodes
    /// that compute nothing: `Identity`, and `Dropout` in inference mode (no
    /// `training_mode`, or a constant false one) whose mask nobody reads. Their readers
    /// read the operand directly.
    ///
    /// Graph output names never change: when an `Identity` produces a graph output, the
    /// operand takes the output's name, and when it cannot (it is a graph input, another
    /// output, an initializer, or read by name from a subgraph) the `Identity` stays.
    public static let eliminateDeadCode = Pass("EliminateDeadCode") { graph, _ in
        try Rewriter(EliminateDeadCode.rules).rewrite(graph.compacted()).graph
    }
}

/// The rules of ``Pass/eliminateDeadCode``.
package enum EliminateDeadCode {
    /// Nodes that compute nothing.
    package static let rules: [RewriteRule] = [
        RewriteRule(name: "identity(x) -> x", match: identity),  // y = x
        RewriteRule(name: "dropout(x) -> x", match: inferenceDropout),  // inference: y = x, mask unread
    ]

    private static func identity(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard node.op == .identity, let x = node.input(0), let y = view.singleOutput(node) else { return nil }
        var replacement = Replacement(in: view)
        replacement.alias(y, to: x)
        return replacement
    }

    private static func inferenceDropout(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard node.op == .dropout, let x = node.input(0), let y = node.outputs.first ?? nil else { return nil }
        if let trainingMode = node.input(2) {
            guard view.scalar(trainingMode) == 0 else { return nil }
        }
        if node.outputs.count > 1, let mask = node.outputs[1], view.isRead(mask) { return nil }
        var replacement = Replacement(in: view)
        replacement.alias(y, to: x)
        return replacement
    }
}
