import KilnCore
import KilnIR

extension Pass {
    /// Folds a constant-mode `Pad` of the spatial axes into the `Conv`, `AveragePool` or
    /// `MaxPool` that reads it, by adding its amounts to the consumer's `pads`.
    ///
    /// Legal when the `Pad` has constant, non-negative amounts on the spatial axes only
    /// (none on N or C), the consumer is its only reader and uses explicit pads
    /// (`auto_pad` NOTSET), and the padding value is what the consumer pads with:
    /// - `Conv`: value 0.
    /// - `AveragePool` (no `ceil_mode`): value 0, counted in the average — so
    ///   `count_include_pad` must be 1, or 0 with no pads of its own (it becomes 1).
    /// - `MaxPool` (no `ceil_mode`, no indices output): value −∞, or value 0 on an input
    ///   known to be non-negative (a `Relu`, `Relu6`, `Sigmoid`, … result) with unit
    ///   dilations.
    ///
    /// Pools also need every resulting pad smaller than the kernel (as onnxruntime does).
    public static let foldPad = Pass("FoldPad") { graph, _ in
        try Rewriter(FoldPad.rules).rewrite(graph).graph
    }
}

/// The rules of ``Pass/foldPad``.
package enum FoldPad {
    /// One rule per consumer.
    package static let rules: [RewriteRule] = [
        RewriteRule(name: "conv(pad(x, p, 0)) -> conv(x) {pads + p}", match: folding(into: .conv)),  // zeros either way
        RewriteRule(
            name: "average_pool(pad(x, p, 0)) -> average_pool(x) {pads + p, count_include_pad}",
            match: folding(into: .averagePool)),  // padded zeros count in the mean
        RewriteRule(name: "max_pool(pad(x, p, -inf)) -> max_pool(x) {pads + p}", match: folding(into: .maxPool)),  // or 0 on x ≥ 0
    ]

    private static func folding(into op: OpKind) -> @Sendable (Node, RewriteView) throws -> Replacement? {
        { node, view in try fold(node, view, into: op) }
    }

    /// Ops whose results are never negative.
    private static let nonNegative: Set<OpKind> = [.relu, .relu6, .sigmoid, .hardSigmoid, .softplus, .abs, .exp]

    /// A constant-mode `Pad`'s spatial amounts (`[begin…, end…]` over axes 2…) and value.
    private struct SpatialPad {
        var pads: [Int]
        var value: Double
    }

    private static func spatialPad(_ pad: Node, _ view: RewriteView) throws -> SpatialPad? {
        guard pad.op == .pad, try pad.attributes.string("mode", default: "constant") == "constant",
            let rank = view.type(of: pad.input(0)).shape?.count, rank >= 3,
            let requested = view.constant(pad.input(1))?.integerScalars()
        else { return nil }
        var axes = Array(0..<rank)
        if let axesID = pad.input(3) {
            guard let listed = view.constant(axesID)?.integerScalars() else { return nil }
            axes = listed.map { $0 < 0 ? $0 + rank : $0 }
        }
        guard requested.count == 2 * axes.count, axes.allSatisfy({ (0..<rank).contains($0) }) else { return nil }
        var full = [Int](repeating: 0, count: 2 * rank)
        for (position, axis) in axes.enumerated() {
            full[axis] += requested[position]
            full[axis + rank] += requested[position + axes.count]
        }
        guard full.allSatisfy({ $0 >= 0 }), full[0] == 0, full[1] == 0, full[rank] == 0, full[rank + 1] == 0 else {
            return nil
        }
        var value = 0.0
        if let valueID = pad.input(2) {
            guard let constant = view.constant(valueID) else { return nil }
            if constant.count > 0 {
                guard constant.count == 1, let first = constant.doubleScalars().first else { return nil }
                value = first
            }
        }
        return SpatialPad(pads: Array(full[2..<rank]) + Array(full[(rank + 2)...]), value: value)
    }

    private static func fold(_ consumer: Node, _ view: RewriteView, into op: OpKind) throws -> Replacement? {
        guard consumer.op == op, let padded = consumer.input(0), view.hasSingleUse(padded),
            let pad = view.producer(of: padded), let x = pad.input(0), view.singleOutput(pad) == padded,
            let spatial = try spatialPad(pad, view),
            try consumer.attributes.string("auto_pad", default: "NOTSET") == "NOTSET"
        else { return nil }
        let existing = try consumer.attributes.ints("pads") ?? Array(repeating: 0, count: spatial.pads.count)
        guard existing.count == spatial.pads.count else { return nil }
        var attributes = consumer.attributes
        attributes["pads"] = .ints(zip(existing, spatial.pads).map { $0 + $1 })
        switch op {
        case .conv:
            guard spatial.value == 0 else { return nil }
        case .averagePool:
            guard spatial.value == 0, try isPoolFoldable(consumer, attributes) else { return nil }
            if try consumer.attributes.int("count_include_pad", default: 0) == 0 {
                guard existing.allSatisfy({ $0 == 0 }) else { return nil }
                attributes["count_include_pad"] = .int(1)
            }
        default:
            guard try isPoolFoldable(consumer, attributes) else { return nil }
            if node(consumer, hasReadOutputAfterFirst: view) { return nil }
            let isNegativeInfinity = spatial.value == -.infinity
            let dilations = try consumer.attributes.ints("dilations") ?? []
            let isZeroOnNonNegative = spatial.value == 0 && dilations.allSatisfy { $0 == 1 } && isNonNegative(x, view)
            guard isNegativeInfinity || isZeroOnNonNegative else { return nil }
        }
        var node = consumer
        node.inputs[0] = x
        node.attributes = attributes
        return Replacement(in: view, nodes: [node])
    }

    /// No `ceil_mode`, and each resulting pad smaller than the kernel on its axis.
    private static func isPoolFoldable(_ pool: Node, _ attributes: Attributes) throws -> Bool {
        guard try pool.attributes.int("ceil_mode", default: 0) == 0,
            let kernel = try pool.attributes.ints("kernel_shape"),
            let pads = try attributes.ints("pads"), pads.count == 2 * kernel.count
        else { return false }
        return pads.enumerated().allSatisfy { $0.element < kernel[$0.offset % kernel.count] }
    }

    private static func node(_ node: Node, hasReadOutputAfterFirst view: RewriteView) -> Bool {
        node.outputs.dropFirst().contains { $0.map(view.isRead) ?? false }
    }

    /// Whether `x` is produced by an op whose results are never negative (or a `Clip` with
    /// a constant lower bound ≥ 0).
    private static func isNonNegative(_ x: ValueID, _ view: RewriteView) -> Bool {
        guard let producer = view.producer(of: x) else { return false }
        if producer.op == .clip, let low = view.scalar(producer.input(1)) { return low >= 0 }
        return nonNegative.contains(producer.op)
    }
}
