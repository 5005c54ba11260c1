import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// Evaluators of normalization and softmax (part of the NN family).
    static let normalization: [OpKind: Evaluator] = [
        .batchNormalization: evaluateBatchNormalization,
        .instanceNormalization: evaluateInstanceNormalization,
        .layerNormalization: evaluateLayerNormalization,
        .softmax: { node, inputs, context in try evaluateSoftmax(node, inputs, context, .softmax) },
        .logSoftmax: { node, inputs, context in try evaluateSoftmax(node, inputs, context, .logSoftmax) },
        .hardmax: { node, inputs, context in try evaluateSoftmax(node, inputs, context, .hardmax) },
    ]

    /// `axis` in `-rank..<rank` (or `...rank` when `allowingRank`) as a non-negative axis.
    package static func normalizedAxis(_ axis: Int, rank: Int, allowingRank: Bool = false) throws -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0, allowingRank ? resolved <= rank : resolved < rank else {
            throw KilnError(.invalidArgument, "axis \(axis) is out of range for rank \(rank)")
        }
        return resolved
    }

    @Sendable static func evaluateBatchNormalization(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let x = try context.required(inputs, 0, node)
        var output = context.makeOutput(0, zeros: x.shape, dtype: x.dtype)
        try Normalization.batchNormalization(
            input: x, scale: try context.required(inputs, 1, node), bias: try context.required(inputs, 2, node),
            mean: try context.required(inputs, 3, node), variance: try context.required(inputs, 4, node),
            epsilon: try node.attributes.float("epsilon", default: 1e-5), output: &output, threads: context.threads)
        return [output]
    }

    @Sendable static func evaluateInstanceNormalization(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let x = try context.required(inputs, 0, node)
        var output = context.makeOutput(0, zeros: x.shape, dtype: x.dtype)
        try Normalization.instanceNormalization(
            input: x, scale: try context.required(inputs, 1, node), bias: try context.required(inputs, 2, node),
            epsilon: try node.attributes.float("epsilon", default: 1e-5), output: &output, threads: context.threads)
        return [output]
    }

    @Sendable static func evaluateLayerNormalization(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let x = try context.required(inputs, 0, node)
        let attributes = node.attributes
        let axis = try normalizedAxis(try attributes.int("axis", default: -1), rank: x.rank)
        let statisticsType = try layerNormalizationStatisticsType(x.dtype, stashType: try attributes.int("stash_type", default: 1))
        let statisticsShape = Array(x.shape[..<axis]) + Array(repeating: 1, count: x.rank - axis)
        func wanted(_ slot: Int) -> Bool { node.outputs.count > slot && node.outputs[slot] != nil }
        var output = context.makeOutput(0, zeros: x.shape, dtype: x.dtype)
        var mean: Tensor? = wanted(1) ? context.makeOutput(1, zeros: statisticsShape, dtype: statisticsType) : nil
        var inverse: Tensor? = wanted(2) ? context.makeOutput(2, zeros: statisticsShape, dtype: statisticsType) : nil
        try Normalization.layerNormalization(
            input: x, scale: try context.required(inputs, 1, node), bias: inputs.count > 2 ? inputs[2] : nil,
            axis: axis, epsilon: try attributes.float("epsilon", default: 1e-5), output: &output,
            mean: &mean, inverseStandardDeviation: &inverse, threads: context.threads)
        return [output, mean, inverse]
    }

    /// The dtype of LayerNormalization's Mean/InvStdDev: float32 for `stash_type` 1 (the
    /// default), float64 for 11, else the input's.
    static func layerNormalizationStatisticsType(_ input: DType, stashType: Int) throws -> DType {
        switch stashType {
        case 1: .float32
        case 11: .float64
        default: input
        }
    }

    static func evaluateSoftmax(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext, _ kind: Softmax.Kind) throws -> [Tensor?] {
        let x = try context.required(inputs, 0, node)
        var output = context.makeOutput(0, zeros: x.shape, dtype: x.dtype)
        guard x.count > 0 else { return [output] }
        let (outer, length, inner) = try softmaxView(node, x.shape)
        if length == 0 { return [output] }
        try Softmax.run(kind, input: x, outer: outer, length: length, inner: inner, output: &output, threads: context.threads)
        return [output]
    }

    /// The `[outer, length, inner]` view a Softmax, LogSoftmax or Hardmax `node` normalizes
    /// an input of `shape` in (its lines: `length` elements of stride `inner`).
    ///
    /// - Throws: `invalidArgument` for an axis out of range.
    package static func softmaxView(_ node: Node, _ shape: [Int]) throws -> (outer: Int, length: Int, inner: Int) {
        let coerce = try node.attributes.int(NNAttributes.coerceTo2D, default: 0) != 0
        let rank = max(shape.count, 1)
        let shape = shape.isEmpty ? [1] : shape
        let axis = try normalizedAxis(try node.attributes.int("axis", default: coerce ? 1 : -1), rank: rank, allowingRank: coerce)
        let outer = Tensor.elementCount(Array(shape[..<axis]))
        let length = coerce ? Tensor.elementCount(Array(shape[axis...])) : shape[axis]
        let inner = coerce ? 1 : Tensor.elementCount(Array(shape[(axis + 1)...]))
        return (outer, length, inner)
    }
}
