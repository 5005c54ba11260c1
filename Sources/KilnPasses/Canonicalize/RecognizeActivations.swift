import KilnCore
import KilnIR

extension Pass {
    /// Recognizes activations that exporters spell out as several nodes, so later passes
    /// (and DPU support rules) see one node:
    /// - `relu6(x)`: `Clip(x, 0, 6)` with constant bounds, `Min(Max(x, 0), 6)`,
    ///   `Max(Min(x, 6), 0)`.
    /// - `hard_swish(x)`: `x · HardSigmoid(x)` with alpha 1/6 and beta 1/2, and
    ///   `x · relu6(x + 3) / 6` in its three usual spellings (`x · (relu6(x + 3) / 6)`,
    ///   `(x · relu6(x + 3)) / 6`, multiplication by 1/6 instead of division by 6).
    /// - `silu(x)`: `x · Sigmoid(x)`.
    ///
    /// Products match in either operand order. A pattern matches only when every
    /// intermediate value has no other reader, and only on floating-point values.
    public static let recognizeActivations = Pass("RecognizeActivations") { graph, _ in
        try Rewriter(RecognizeActivations.rules).rewrite(graph).graph
    }
}

/// The rules of ``Pass/recognizeActivations``.
package enum RecognizeActivations {
    /// General (ReLU6, the building block) first, then the larger patterns built on it.
    package static let rules: [RewriteRule] = [
        RewriteRule(name: "clip(x, 0, 6) -> relu6(x)", match: clipAsRelu6),  // min(max(x, 0), 6)
        RewriteRule(name: "min(max(x, 0), 6) -> relu6(x)", match: minMaxAsRelu6),  // and max(min(x, 6), 0)
        RewriteRule(name: "mul(x, sigmoid(x)) -> silu(x)", match: silu),  // x / (1 + e^-x)
        RewriteRule(name: "mul(x, hard_sigmoid(x)) -> hard_swish(x)", match: productWithHardSigmoid),  // or x·(relu6(x+3)/6)
        RewriteRule(name: "mul(x, relu6(x + 3)) / 6 -> hard_swish(x)", match: scaledProduct),  // also · 1/6
    ]

    // MARK: Rules

    private static func clipAsRelu6(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard node.op == .clip, let x = clipRelu6Operand(node, view) else { return nil }
        return unary(.relu6, of: x, replacing: node, view)
    }

    private static func minMaxAsRelu6(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard node.op == .min || node.op == .max, let x = minMaxRelu6Operand(node, view) else { return nil }
        return unary(.relu6, of: x, replacing: node, view)
    }

    private static func silu(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard node.op == .mul, let (lhs, rhs) = view.binaryOperands(node) else { return nil }
        for (x, gate) in [(lhs, rhs), (rhs, lhs)] {
            guard view.hasSingleUse(gate), let sigmoid = view.producer(of: gate), sigmoid.op == .sigmoid,
                sigmoid.input(0) == x
            else { continue }
            return unary(.silu, of: x, replacing: node, view)
        }
        return nil
    }

    private static func productWithHardSigmoid(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard node.op == .mul, let (lhs, rhs) = view.binaryOperands(node) else { return nil }
        for (x, gate) in [(lhs, rhs), (rhs, lhs)] where view.hasSingleUse(gate) && hardSigmoidOperand(gate, view) == x {
            return unary(.hardSwish, of: x, replacing: node, view)
        }
        return nil
    }

    /// `div(mul(x, relu6(x + 3)), 6)` or `mul(mul(x, relu6(x + 3)), 1/6)`.
    private static func scaledProduct(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard let product = scaledBySixth(node, view), view.hasSingleUse(product),
            let multiply = view.producer(of: product), multiply.op == .mul,
            let (lhs, rhs) = view.binaryOperands(multiply)
        else { return nil }
        for (x, gate) in [(lhs, rhs), (rhs, lhs)] where view.hasSingleUse(gate) && relu6OfShifted(gate, view) == x {
            return unary(.hardSwish, of: x, replacing: node, view)
        }
        return nil
    }

    // MARK: Pattern pieces (each checks that its own intermediates have one reader)

    /// `x` when `id` is `relu6(x)` in any spelling.
    private static func relu6Operand(_ id: ValueID, _ view: RewriteView) -> ValueID? {
        guard let node = view.producer(of: id) else { return nil }
        switch node.op {
        case .relu6: return node.input(0)
        case .clip: return clipRelu6Operand(node, view)
        case .min, .max: return minMaxRelu6Operand(node, view)
        default: return nil
        }
    }

    /// `x` when `node` is `Clip(x, 0, 6)` on a float `x`.
    private static func clipRelu6Operand(_ node: Node, _ view: RewriteView) -> ValueID? {
        guard node.inputs.count == 3, let x = node.input(0), view.isFloatingPoint(x),
            view.isScalar(node.input(1), 0), view.isScalar(node.input(2), 6)
        else { return nil }
        return x
    }

    /// `x` when `node` is `Min(Max(x, 0), 6)` or `Max(Min(x, 6), 0)`.
    private static func minMaxRelu6Operand(_ node: Node, _ view: RewriteView) -> ValueID? {
        let (outerBound, innerOp, innerBound): (Double, OpKind, Double) = node.op == .min ? (6, .max, 0) : (0, .min, 6)
        guard let (lhs, rhs) = view.binaryOperands(node) else { return nil }
        for (inner, bound) in [(lhs, rhs), (rhs, lhs)]
        where view.isScalar(bound, outerBound) && view.hasSingleUse(inner) {
            guard let innerNode = view.producer(of: inner), innerNode.op == innerOp,
                let (a, b) = view.binaryOperands(innerNode)
            else { continue }
            for (x, innerLimit) in [(a, b), (b, a)]
            where view.isScalar(innerLimit, innerBound) && view.isFloatingPoint(x) {
                return x
            }
        }
        return nil
    }

    /// `x` when `id` is `relu6(x + 3)` (either order of the addition).
    private static func relu6OfShifted(_ id: ValueID, _ view: RewriteView) -> ValueID? {
        guard let shifted = relu6Operand(id, view), view.hasSingleUse(shifted),
            let add = view.producer(of: shifted), add.op == .add, let (lhs, rhs) = view.binaryOperands(add)
        else { return nil }
        if view.isScalar(rhs, 3) { return lhs }
        if view.isScalar(lhs, 3) { return rhs }
        return nil
    }

    /// `x` when `id` is `HardSigmoid(x)` with alpha 1/6 and beta 1/2, or
    /// `relu6(x + 3) / 6`, or `relu6(x + 3) · 1/6`.
    private static func hardSigmoidOperand(_ id: ValueID, _ view: RewriteView) -> ValueID? {
        guard let node = view.producer(of: id) else { return nil }
        if node.op == .hardSigmoid {
            guard let alpha = try? node.attributes.float("alpha", default: 0.2),
                let beta = try? node.attributes.float("beta", default: 0.5),
                Swift.abs(Double(alpha) - 1.0 / 6.0) <= 1e-6, Swift.abs(Double(beta) - 0.5) <= 1e-6
            else { return nil }
            return node.input(0)
        }
        guard let clipped = scaledBySixth(node, view), view.hasSingleUse(clipped) else { return nil }
        return relu6OfShifted(clipped, view)
    }

    /// `v` when `node` is `v / 6` or `v · 1/6` (either order).
    private static func scaledBySixth(_ node: Node, _ view: RewriteView) -> ValueID? {
        guard let (lhs, rhs) = view.binaryOperands(node) else { return nil }
        switch node.op {
        case .div: return view.isScalar(rhs, 6) ? lhs : nil
        case .mul:
            if view.isScalar(rhs, 1.0 / 6.0) { return lhs }
            if view.isScalar(lhs, 1.0 / 6.0) { return rhs }
            return nil
        default: return nil
        }
    }

    /// `op(x)` in place of `node`, with the node's name and output. The ranks must agree: a
    /// constant of higher rank (`x · c` with `c: [1, 1, 1]`) would broadcast `x` up.
    private static func unary(_ op: OpKind, of x: ValueID, replacing node: Node, _ view: RewriteView) -> Replacement? {
        guard view.isFloatingPoint(x), let y = view.singleOutput(node),
            let rank = view.type(of: x).shape?.count, view.type(of: y).shape?.count == rank
        else { return nil }
        return Replacement(in: view, nodes: [Node(name: node.name, op: op, inputs: [x], outputs: [y])])
    }
}
