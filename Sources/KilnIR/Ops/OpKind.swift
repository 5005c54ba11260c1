/// Every operation the IR can express. One closed vocabulary: each table in Kiln (shape
/// inference, importer, kernels, later DPU support rules) is keyed by it, and a coverage
/// test walks ``allCases``. ONNX names and op versions appear only in `KilnONNX`.
///
/// Semantics are those of the newest ONNX version of the op the importer accepts; the
/// importer rewrites older versions into that form.
public enum OpKind: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    // Elementwise unary math
    case abs, neg, ceil, floor, round, sign, sqrt, reciprocal, exp, log, erf
    case sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh
    case isNaN, isInf
    // Activations
    case relu, leakyRelu, pRelu, elu, selu, celu, sigmoid, hardSigmoid, hardSwish, tanh
    case softplus, softsign, gelu, mish, thresholdedRelu, clip
    // Elementwise binary / variadic
    case add, sub, mul, div, pow, mod, max, min, mean, sum
    case and, or, xor, not, bitShift
    case equal, greater, greaterOrEqual, less, lessOrEqual
    case `where`
    // Type and identity
    case cast, identity, dropout
    // Reductions and index reductions
    case reduceSum, reduceMean, reduceMax, reduceMin, reduceProd, reduceL1, reduceL2
    case reduceLogSum, reduceLogSumExp, reduceSumSquare
    case argMax, argMin, cumSum, topK
    // Normalization and softmax
    case batchNormalization, instanceNormalization, layerNormalization
    case softmax, logSoftmax, hardmax
    // Convolution, pooling, matrix products
    case conv, convTranspose, maxPool, averagePool, globalAveragePool, globalMaxPool
    case gemm, matMul, einsum
    // Shape and data movement
    case reshape, flatten, squeeze, unsqueeze, transpose, concat, split, slice
    case gather, gatherElements, gatherND, scatterND, scatterElements
    case expand, tile, pad, shape, size, constantOfShape, range, oneHot, nonZero
    case depthToSpace, spaceToDepth, trilu, resize
    // Quantization
    case quantizeLinear, dequantizeLinear
    // Recurrent
    case lstm, gru
    // Control flow
    case `if`, loop
    // Recognized by canonicalization; no ONNX operator of their own
    case relu6, silu
    // Created by CPU graph optimization: `Conv` (inputs X, W, B?) plus an optional summand
    // Z (input 3, the conv's output shape), a clamp to [activation_min, activation_max] and
    // an `activation` ("silu" or "hard_swish") applied last: `activation(clamp(conv(X, W, B) + Z))`
    case fusedConv
    // Created by partitioning: a region of DPU nodes, with the region as its `body` graph
    case dpuSubgraph

    public var description: String { rawValue }
}

extension OpKind {
    /// Ops whose single output has the shape of their first input, elementwise.
    public static let elementwiseUnary: Set<OpKind> = [
        .abs, .neg, .ceil, .floor, .round, .sign, .sqrt, .reciprocal, .exp, .log, .erf,
        .sin, .cos, .tan, .asin, .acos, .atan, .sinh, .cosh, .asinh, .acosh, .atanh,
        .isNaN, .isInf, .not,
        .relu, .leakyRelu, .elu, .selu, .celu, .sigmoid, .hardSigmoid, .hardSwish, .tanh,
        .softplus, .softsign, .gelu, .mish, .thresholdedRelu, .clip, .cast, .identity,
        .relu6, .silu,
    ]

    /// Ops that broadcast their inputs numpy-style to one output.
    public static let broadcasting: Set<OpKind> = [
        .add, .sub, .mul, .div, .pow, .mod, .max, .min, .mean, .sum,
        .and, .or, .xor, .bitShift, .equal, .greater, .greaterOrEqual, .less, .lessOrEqual,
        .where, .pRelu,
    ]

    /// Comparison and logic ops whose output is `bool`.
    public static let boolResult: Set<OpKind> = [
        .equal, .greater, .greaterOrEqual, .less, .lessOrEqual, .and, .or, .xor, .not,
        .isNaN, .isInf,
    ]

    /// Control-flow ops: their subgraphs run conditionally or repeatedly.
    public static let controlFlow: Set<OpKind> = [.if, .loop]

    /// Ops that carry subgraphs (`body`, branches) which the executor runs.
    public static let withSubgraphs: Set<OpKind> = [.if, .loop, .dpuSubgraph]

    /// Ops that passes create and the importer never does (no ONNX operator).
    public static let internalOnly: Set<OpKind> = [.relu6, .silu, .fusedConv, .dpuSubgraph]
}
