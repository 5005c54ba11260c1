import Foundation
import KilnCore
import KilnIR

extension Pass {
    /// Folds an inference-mode `BatchNormalization` into the `Conv`, `ConvTranspose` or
    /// `Gemm` that produces its input, when that producer has constant weights (and a
    /// constant bias, or none) and the normalization is its only reader.
    ///
    /// With `s = scale / sqrt(var + epsilon)` per output channel `o`:
    /// `W'[o] = W[o] · s[o]` and `b'[o] = (b[o] − mean[o]) · s[o] + B[o]`. For
    /// `ConvTranspose` the output channels are `group × W.shape[1]` (axis 1 of the weight,
    /// per group); for `Gemm` they are the columns of `op(B)` and the bias absorbs `beta`.
    public static let foldBatchNorm = Pass("FoldBatchNorm") { graph, _ in
        try Rewriter(FoldBatchNorm.rules).rewrite(graph).graph
    }
}

/// The rules of ``Pass/foldBatchNorm``.
package enum FoldBatchNorm {
    /// One rule per producer kind (`s = scale / sqrt(var + epsilon)` per output channel).
    package static let rules: [RewriteRule] = [
        RewriteRule(name: "batch_norm(conv(x, W, b)) -> conv(x, W', b')", match: folding(into: .conv)),  // W'[o] = W[o]·s[o]
        RewriteRule(
            name: "batch_norm(conv_transpose(x, W, b)) -> conv_transpose(x, W', b')",
            match: folding(into: .convTranspose)),  // W'[c, m] = W[c, m]·s[group(c)·M/group + m]
        RewriteRule(name: "batch_norm(gemm(x, W, c)) -> gemm(x, W', c')", match: folding(into: .gemm)),  // op(W)[:, j]·s[j]
    ]

    private static func folding(into op: OpKind) -> @Sendable (Node, RewriteView) throws -> Replacement? {
        { node, view in try fold(node, view, into: op) }
    }

    /// The per-channel affine map a batch normalization applies: `y = x · scale + shift`.
    private struct Affine {
        var scale: [Double]
        var shift: [Double]
    }

    private static func fold(_ bn: Node, _ view: RewriteView, into op: OpKind) throws -> Replacement? {
        guard bn.op == .batchNormalization, let x = bn.input(0), let y = bn.outputs.first ?? nil,
            !bn.outputs.dropFirst().contains(where: { $0.map(view.isRead) ?? false }),
            let producer = view.producer(of: x), producer.op == op, view.singleOutput(producer) == x,
            view.hasSingleUse(x),
            let weightID = producer.input(1), let weight = view.constant(weightID), weight.isFoldableFloat,
            let affine = try affine(of: bn, view)
        else { return nil }
        let bias: Tensor?
        if let biasID = producer.input(2) {
            guard let constant = view.constant(biasID) else { return nil }
            bias = constant
        } else {
            bias = nil
        }
        let folded: (weight: Tensor, bias: Tensor, attributes: Attributes)?
        switch op {
        case .conv: folded = foldConv(weight, bias, affine, producer.attributes)
        case .convTranspose: folded = try foldConvTranspose(weight, bias, affine, producer.attributes)
        default: folded = try foldGemm(weight, bias, affine, producer.attributes)
        }
        guard let folded else { return nil }
        var replacement = Replacement(in: view)
        let newWeight = replacement.constant(folded.weight, name: view.graph[weightID].name + "_bn")
        let newBias = replacement.constant(folded.bias, name: producer.name + "_bias_bn")
        replacement.nodes = [
            Node(
                name: producer.name, op: op, inputs: [producer.inputs[0], newWeight, newBias], outputs: [y],
                attributes: folded.attributes)
        ]
        return replacement
    }

    /// `s = scale / sqrt(var + epsilon)`, `shift = B − mean · s`, when every statistic is a
    /// constant float vector of one length.
    private static func affine(of bn: Node, _ view: RewriteView) throws -> Affine? {
        let statistics = (1...4).map { view.constant(bn.input($0)) }
        guard statistics.allSatisfy({ $0?.isFoldableFloat == true && $0?.rank == 1 }) else { return nil }
        let vectors = statistics.compactMap { $0?.doubleScalars() }
        let channels = vectors[0].count
        guard vectors.count == 4, vectors.allSatisfy({ $0.count == channels }) else { return nil }
        let epsilon = Double(try bn.attributes.float("epsilon", default: 1e-5))
        let (gamma, beta, mean, variance) = (vectors[0], vectors[1], vectors[2], vectors[3])
        let scale = (0..<channels).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
        let shift = (0..<channels).map { beta[$0] - mean[$0] * scale[$0] }
        return Affine(scale: scale, shift: shift)
    }

    /// `b' = b · s + shift` over `channels` outputs (`b` absent is zero).
    private static func foldedBias(_ bias: Tensor?, _ affine: Affine, dtype: DType) -> Tensor? {
        let channels = affine.scale.count
        var values = [Double](repeating: 0, count: channels)
        if let bias {
            guard let existing = bias.channelValues(channels: channels, axis: 0, rank: 1) else { return nil }
            values = existing
        }
        let folded = (0..<channels).map { values[$0] * affine.scale[$0] + affine.shift[$0] }
        return Tensor.floating(shape: [channels], values: folded, dtype: dtype)
    }

    /// Conv: `W` is `[M, C/group, k…]`; output channel `o` is `W[o]`.
    private static func foldConv(_ weight: Tensor, _ bias: Tensor?, _ affine: Affine, _ attributes: Attributes)
        -> (weight: Tensor, bias: Tensor, attributes: Attributes)?
    {
        let channels = affine.scale.count
        guard weight.rank >= 3, weight.shape[0] == channels,
            let newBias = foldedBias(bias, affine, dtype: weight.dtype)
        else { return nil }
        let inner = weight.count / max(channels, 1)
        var values = weight.doubleScalars()
        for index in values.indices { values[index] *= affine.scale[index / inner] }
        guard let newWeight = Tensor.floating(shape: weight.shape, values: values, dtype: weight.dtype) else {
            return nil
        }
        return (newWeight, newBias, attributes)
    }

    /// ConvTranspose: `W` is `[C, M/group, k…]`; input channel `c` belongs to group
    /// `c / (C/group)`, and `W[c, m]` feeds output channel `group_index · M/group + m`.
    private static func foldConvTranspose(_ weight: Tensor, _ bias: Tensor?, _ affine: Affine, _ attributes: Attributes)
        throws
        -> (weight: Tensor, bias: Tensor, attributes: Attributes)?
    {
        let channels = affine.scale.count
        let group = try attributes.int("group", default: 1)
        guard weight.rank >= 3, group >= 1, weight.shape[0] % group == 0, weight.shape[1] * group == channels,
            let newBias = foldedBias(bias, affine, dtype: weight.dtype)
        else { return nil }
        let perGroupIn = weight.shape[0] / group
        let perGroupOut = weight.shape[1]
        let inner = Tensor.elementCount(Array(weight.shape.dropFirst(2)))
        var values = weight.doubleScalars()
        for index in values.indices {
            let inputChannel = index / (perGroupOut * inner)
            let m = (index / inner) % perGroupOut
            values[index] *= affine.scale[(inputChannel / perGroupIn) * perGroupOut + m]
        }
        guard let newWeight = Tensor.floating(shape: weight.shape, values: values, dtype: weight.dtype) else {
            return nil
        }
        return (newWeight, newBias, attributes)
    }

    /// Gemm `alpha · op(A) · op(B) + beta · C`: column `j` of `op(B)` (a column of `B`, or a
    /// row with `transB`) scales by `s[j]`; `C` must be per-column (or absent) and folds as
    /// `C' = (beta · C) · s + shift`, so `beta` becomes 1.
    private static func foldGemm(_ weight: Tensor, _ bias: Tensor?, _ affine: Affine, _ attributes: Attributes) throws
        -> (weight: Tensor, bias: Tensor, attributes: Attributes)?
    {
        let channels = affine.scale.count
        let transB = try attributes.int("transB", default: 0) != 0
        let beta = Double(try attributes.float("beta", default: 1))
        guard weight.rank == 2, weight.shape[transB ? 0 : 1] == channels else { return nil }
        var scaledBias: Tensor?
        if let bias {
            guard let values = bias.channelValues(channels: channels, axis: 1, rank: 2),
                let scaled = Tensor.floating(shape: [channels], values: values.map { $0 * beta }, dtype: weight.dtype)
            else { return nil }
            scaledBias = scaled
        }
        guard let newBias = foldedBias(scaledBias, affine, dtype: weight.dtype) else { return nil }
        var values = weight.doubleScalars()
        for index in values.indices {
            values[index] *= affine.scale[transB ? index / weight.shape[1] : index % weight.shape[1]]
        }
        guard let newWeight = Tensor.floating(shape: weight.shape, values: values, dtype: weight.dtype) else {
            return nil
        }
        var newAttributes = attributes
        newAttributes["beta"] = nil
        return (newWeight, newBias, newAttributes)
    }
}
