import KilnCore
import KilnIR

extension Pass {
    /// Leaves at most one reshape between two layers, with a literal target shape.
    ///
    /// A chain of `Reshape`s and `Flatten`s whose result shape is fully static becomes one
    /// `Reshape` to that shape; a lone `Reshape` whose target is computed or uses `0`/`-1`
    /// gets the literal static shape; a `Reshape` or `Flatten` that does not change the
    /// shape disappears. A lone `Flatten` stays a `Flatten` (it already says what it does).
    /// Results with a zero-sized dimension are left alone (`0` in a target means "copy").
    public static let simplifyReshapes = Pass("SimplifyReshapes") { graph, _ in
        try Rewriter(SimplifyReshapes.rules).rewrite(graph).graph
    }
}

/// The rules of ``Pass/simplifyReshapes``.
package enum SimplifyReshapes {
    /// General first; the no-op rule, most specific, wins.
    package static let rules: [RewriteRule] = [
        RewriteRule(name: "reshape(x, s) -> reshape(x, static)", match: literalTarget),  // s computed or with 0 / -1
        RewriteRule(name: "reshape(reshape(x, s1), s2) -> reshape(x, static)", match: collapsedChain),  // also flatten
        RewriteRule(name: "reshape(x, shape(x)) -> x", match: noOp),  // also flatten of a 2-D value
    ]

    private static let reshaping: Set<OpKind> = [.reshape, .flatten]

    /// The static result shape of a reshaping node, when it can be a literal target.
    private static func literalShape(_ node: Node, _ view: RewriteView) -> (output: ValueID, shape: [Int])? {
        guard reshaping.contains(node.op), let output = view.singleOutput(node),
            let shape = view.staticShape(of: output), !shape.contains(0)
        else { return nil }
        return (output, shape)
    }

    /// `reshape(x, shape)` in place of `node`, reusing `node`'s target when it is already
    /// that literal.
    private static func reshape(_ node: Node, _ x: ValueID, to shape: [Int], output: ValueID, _ view: RewriteView)
        -> Replacement
    {
        var replacement = Replacement(in: view)
        let target: ValueID
        if node.op == .reshape, let existing = node.input(1), view.constant(existing)?.integerScalars() == shape {
            target = existing
        } else {
            target = replacement.constant(
                Tensor(shape: [shape.count], scalars: shape.map { Int64($0) }), name: node.name + "_shape")
        }
        replacement.nodes = [Node(name: node.name, op: .reshape, inputs: [x, target], outputs: [output])]
        return replacement
    }

    private static func literalTarget(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard node.op == .reshape, let x = node.input(0), let (output, shape) = literalShape(node, view) else {
            return nil
        }
        if let target = view.constant(node.input(1))?.integerScalars(), target == shape,
            (try? node.attributes.int("allowzero", default: 0)) == 0
        {
            return nil
        }
        return reshape(node, x, to: shape, output: output, view)
    }

    private static func collapsedChain(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard let (output, shape) = literalShape(node, view), let inner = node.input(0),
            let producer = view.producer(of: inner), reshaping.contains(producer.op),
            view.singleOutput(producer) == inner, view.hasSingleUse(inner), let x = producer.input(0)
        else { return nil }
        return reshape(node, x, to: shape, output: output, view)
    }

    private static func noOp(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard reshaping.contains(node.op), let x = node.input(0), let (output, shape) = literalShape(node, view),
            view.staticShape(of: x) == shape
        else { return nil }
        var replacement = Replacement(in: view)
        replacement.alias(output, to: x)
        return replacement
    }
}
