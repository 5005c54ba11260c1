import KilnCore
import KilnIR

extension Pass {
    /// Makes every fully connected layer one `Gemm`: a `MatMul` of a 2-D value by a 2-D
    /// constant weight becomes `Gemm`, and a per-column constant added to its result moves
    /// into the `Gemm`'s `C`.
    ///
    /// The 2-D operand may come from anything (a `Flatten`, a `Reshape` to 2-D); the added
    /// constant must broadcast as a row (`[M]`, `[1, M]`, a scalar). A `Gemm` whose `C` is
    /// present must have a constant, per-column `C` to take an addend.
    public static let fuseFullyConnected = Pass("FuseFullyConnected") { graph, _ in
        try Rewriter(FuseFullyConnected.rules).rewrite(graph).graph
    }
}

/// The rules of ``Pass/fuseFullyConnected``.
package enum FuseFullyConnected {
    /// General first: a bare `MatMul` becomes a `Gemm`; the `Add`-rooted rules, tried
    /// first, swallow the bias in the same step.
    package static let rules: [RewriteRule] = [
        RewriteRule(name: "matmul(x, W) -> gemm(x, W)", match: matMulAsGemm),  // x: [N, K], W: [K, M] constant
        RewriteRule(name: "add(gemm(x, W, c), b) -> gemm(x, W, beta·c + b)", match: gemmPlusBias),  // beta becomes 1
        RewriteRule(name: "add(matmul(x, W), b) -> gemm(x, W, b)", match: matMulPlusBias),  // b: [M] row
    ]

    /// `(x, W, M)` when `node` is `MatMul(x, W)` with a 2-D `x` and a 2-D constant float `W`.
    private static func fullyConnected(_ node: Node, _ view: RewriteView) -> (
        x: ValueID, weight: ValueID, columns: Int
    )? {
        guard node.op == .matMul, let (x, weightID) = view.binaryOperands(node),
            view.type(of: x).shape?.count == 2, view.isFloatingPoint(x),
            let weight = view.constant(weightID), weight.rank == 2, weight.isFoldableFloat
        else { return nil }
        return (x, weightID, weight.shape[1])
    }

    private static func matMulAsGemm(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard let (x, weight, _) = fullyConnected(node, view), let y = view.singleOutput(node) else { return nil }
        return Replacement(in: view, nodes: [Node(name: node.name, op: .gemm, inputs: [x, weight], outputs: [y])])
    }

    private static func matMulPlusBias(_ add: Node, _ view: RewriteView) -> Replacement? {
        guard add.op == .add, let (lhs, rhs) = view.binaryOperands(add), let y = view.singleOutput(add) else {
            return nil
        }
        for (product, addend) in [(lhs, rhs), (rhs, lhs)] {
            guard let matMul = view.producer(of: product), view.hasSingleUse(product),
                let (x, weight, columns) = fullyConnected(matMul, view),
                let values = view.constant(addend)?.channelValues(channels: columns, axis: 1, rank: 2),
                let dtype = view.constant(weight)?.dtype,
                let bias = Tensor.floating(shape: [columns], values: values, dtype: dtype)
            else { continue }
            var replacement = Replacement(in: view)
            let biasValue = replacement.constant(bias, name: matMul.name + "_bias")
            replacement.nodes = [Node(name: matMul.name, op: .gemm, inputs: [x, weight, biasValue], outputs: [y])]
            return replacement
        }
        return nil
    }

    private static func gemmPlusBias(_ add: Node, _ view: RewriteView) -> Replacement? {
        guard add.op == .add, let (lhs, rhs) = view.binaryOperands(add), let y = view.singleOutput(add) else {
            return nil
        }
        for (product, addend) in [(lhs, rhs), (rhs, lhs)] {
            guard let gemm = view.producer(of: product), gemm.op == .gemm, view.hasSingleUse(product),
                view.singleOutput(gemm) == product,
                let columns = view.type(of: product).shape?.last?.value,
                let weight = gemm.input(1), let dtype = view.type(of: product).dtype,
                var values = view.constant(addend)?.channelValues(channels: columns, axis: 1, rank: 2),
                let beta = try? gemm.attributes.float("beta", default: 1)
            else { continue }
            if let c = gemm.input(2) {
                guard let existing = view.constant(c)?.channelValues(channels: columns, axis: 1, rank: 2) else {
                    continue
                }
                for index in values.indices { values[index] += Double(beta) * existing[index] }
            }
            guard let bias = Tensor.floating(shape: [columns], values: values, dtype: dtype) else { continue }
            var replacement = Replacement(in: view)
            let biasValue = replacement.constant(bias, name: gemm.name + "_bias")
            var attributes = gemm.attributes
            attributes["beta"] = nil
            replacement.nodes = [
                Node(
                    name: gemm.name, op: .gemm, inputs: [gemm.inputs[0], weight, biasValue], outputs: [y],
                    attributes: attributes)
            ]
            return replacement
        }
        return nil
    }
}
