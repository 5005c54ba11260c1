import KilnCore
import KilnIR

extension Pass {
    /// Moves a per-channel constant added to a `Conv` or `ConvTranspose` result into the
    /// convolution's bias: `add(conv(x, W), c) -> conv(x, W, c)`, and with an existing
    /// constant bias `b`, `conv(x, W, b + c)`.
    ///
    /// `c` must broadcast as `[1, M, 1, …]` against the `[N, M, …]` result (`[M, 1, 1]`,
    /// `[1, M, 1, 1]`, a scalar — anything that adds one value per output channel and does
    /// not grow the result), and the convolution's result must have no other reader.
    public static let fuseConvBias = Pass("FuseConvBias") { graph, _ in
        try Rewriter(FuseConvBias.rules).rewrite(graph).graph
    }
}

/// The rules of ``Pass/fuseConvBias``.
package enum FuseConvBias {
    /// Either operand order of the `Add`.
    package static let rules: [RewriteRule] = [
        RewriteRule(name: "add(conv(x, W, b), c) -> conv(x, W, b + c)", match: fuse)  // b absent = 0
    ]

    private static func fuse(_ add: Node, _ view: RewriteView) -> Replacement? {
        guard add.op == .add, let (lhs, rhs) = view.binaryOperands(add), let y = view.singleOutput(add) else {
            return nil
        }
        for (convolved, addend) in [(lhs, rhs), (rhs, lhs)] {
            if let replacement = fuse(add, convolved, addend, y, view) { return replacement }
        }
        return nil
    }

    private static func fuse(_ add: Node, _ convolved: ValueID, _ addend: ValueID, _ y: ValueID, _ view: RewriteView)
        -> Replacement?
    {
        guard let conv = view.producer(of: convolved), conv.op == .conv || conv.op == .convTranspose,
            view.singleOutput(conv) == convolved, view.hasSingleUse(convolved),
            let constant = view.constant(addend),
            let weightID = conv.input(1), let weight = view.constant(weightID), weight.isFoldableFloat,
            weight.rank >= 3,
            let outputRank = view.type(of: convolved).shape?.count, outputRank == weight.rank,
            let group = try? conv.attributes.int("group", default: 1)
        else { return nil }
        let channels = conv.op == .conv ? weight.shape[0] : weight.shape[1] * group
        guard var values = constant.channelValues(channels: channels, axis: 1, rank: outputRank) else { return nil }
        if let biasID = conv.input(2) {
            guard let existing = view.constant(biasID)?.channelValues(channels: channels, axis: 0, rank: 1) else {
                return nil
            }
            for index in values.indices { values[index] += existing[index] }
        }
        guard let bias = Tensor.floating(shape: [channels], values: values, dtype: weight.dtype) else { return nil }
        var replacement = Replacement(in: view)
        let biasValue = replacement.constant(bias, name: conv.name + "_bias")
        replacement.nodes = [
            Node(
                name: conv.name, op: conv.op, inputs: [conv.inputs[0], weightID, biasValue], outputs: [y],
                attributes: conv.attributes)
        ]
        return replacement
    }
}
