/// The limits of the eltwise engine.
public struct EltwiseLimits: Codable, Sendable, Hashable {
    /// The operations the engine runs.
    public var kinds: [EltwiseKind]
    /// The most inputs one op may have, or `nil` if not stated.
    public var maxInputs: Int?
    /// Activations that fuse into the op.
    public var activations: [Activation]
    /// Rules on the sizes (channel counts).
    public var constraints: [SizeConstraint]

    /// Creates eltwise limits; kinds and activations are stored in canonical order.
    public init(
        kinds: Set<EltwiseKind>, maxInputs: Int? = nil, activations: Set<Activation>,
        constraints: [SizeConstraint]
    ) {
        self.kinds = EltwiseKind.allCases.filter(kinds.contains)
        self.maxInputs = maxInputs
        self.activations = Activation.ordered(activations)
        self.constraints = constraints
    }

    private enum CodingKeys: String, CodingKey {
        case kinds, maxInputs = "max_inputs", activations, constraints
    }
}

/// One bilinear-resize configuration that maps to the DPU.
public struct BilinearCase: Codable, Sendable, Hashable {
    /// The `align_corners` flag the case needs.
    public var alignCorners: Bool
    /// The `half_pixel_centers` flag the case needs.
    public var halfPixelCenters: Bool
    /// The integer scales accepted.
    public var scales: [Int]

    /// Creates a case.
    public init(alignCorners: Bool, halfPixelCenters: Bool, scales: [Int]) {
        self.alignCorners = alignCorners
        self.halfPixelCenters = halfPixelCenters
        self.scales = scales
    }

    private enum CodingKeys: String, CodingKey {
        case alignCorners = "align_corners", halfPixelCenters = "half_pixel_centers", scales
    }
}

/// The limits of `resize` (upsampling).
public struct ResizeLimits: Codable, Sendable, Hashable {
    /// The interpolation modes the DPU runs.
    public var modes: [ResizeMode]
    /// Whether nearest resize needs an integer scale.
    public var nearestNeedsIntegerScale: Bool
    /// The bilinear configurations that map to the DPU (any of them).
    public var bilinearCases: [BilinearCase]
    /// Rules for nearest resize (scale against the bank depth).
    public var nearestConstraints: [SizeConstraint]

    /// Creates resize limits; modes are stored in canonical order.
    public init(
        modes: Set<ResizeMode>, nearestNeedsIntegerScale: Bool, bilinearCases: [BilinearCase],
        nearestConstraints: [SizeConstraint]
    ) {
        self.modes = ResizeMode.allCases.filter(modes.contains)
        self.nearestNeedsIntegerScale = nearestNeedsIntegerScale
        self.bilinearCases = bilinearCases
        self.nearestConstraints = nearestConstraints
    }

    private enum CodingKeys: String, CodingKey {
        case modes, nearestNeedsIntegerScale = "nearest_needs_integer_scale"
        case bilinearCases = "bilinear_cases", nearestConstraints = "nearest_constraints"
    }
}

/// The limits of `pad` when it is not fused into its neighbour.
public struct PadLimits: Codable, Sendable, Hashable {
    /// The padding modes accepted (`REFLECT` never is).
    public var modes: [PadMode]
    /// Rules on the sizes.
    public var constraints: [SizeConstraint]

    /// Creates pad limits; modes are stored in canonical order.
    public init(modes: Set<PadMode>, constraints: [SizeConstraint]) {
        self.modes = PadMode.allCases.filter(modes.contains)
        self.constraints = constraints
    }
}

/// The limits of `reorg` (space-to-depth and its reverse, depth-to-space).
public struct ReorgLimits: Codable, Sendable, Hashable {
    /// Rules for `reverse == false` (space to depth).
    public var forward: [SizeConstraint]
    /// Rules for `reverse == true` (depth to space).
    public var reverse: [SizeConstraint]

    /// Creates reorg limits.
    public init(forward: [SizeConstraint], reverse: [SizeConstraint]) {
        self.forward = forward
        self.reverse = reverse
    }
}

/// What the DPU runs, and within which limits, for one architecture.
///
/// From UG1414 v3.5 Table 28 ("Currently Supported Operators") and, for DPUCZDX8G, the
/// compiler's target descriptions. A `nil` op is not run by this DPU (it falls back to
/// the CPU); inside an op, an empty constraint list means none is published. Global
/// pooling is a pool whose kernel equals its input size; fully connected layers and
/// matrix products are checked as 1×1 convolutions.
public struct OperatorLimits: Codable, Sendable, Hashable {
    /// `conv2d` with `groups == 1`.
    public var conv: WindowLimits?
    /// `depthwise-conv2d` (`groups == input channels`).
    public var depthwiseConv: WindowLimits?
    /// `transposed-conv2d` (non-zero `output_padding` stays on the CPU).
    public var transposedConv: WindowLimits?
    /// `depthwise-transposed-conv2d`.
    public var depthwiseTransposedConv: WindowLimits?
    /// `maxpool2d`.
    public var maxPool: WindowLimits?
    /// `avgpool2d` (the DPU multiplies by an approximate reciprocal of the window size).
    public var averagePool: WindowLimits?
    /// `conv3d`.
    public var conv3d: WindowLimits?
    /// `depthwise-conv3d`.
    public var depthwiseConv3d: WindowLimits?
    /// `transposed-conv3d`.
    public var transposedConv3d: WindowLimits?
    /// `depthwise-transposed-conv3d`.
    public var depthwiseTransposedConv3d: WindowLimits?
    /// Elementwise add / multiply.
    public var eltwise: EltwiseLimits?
    /// `resize` / upsample.
    public var resize: ResizeLimits?
    /// `pad`.
    public var pad: PadLimits?
    /// `reorg`.
    public var reorg: ReorgLimits?
    /// `argmax` along the channel axis.
    public var argmax: [SizeConstraint]?
    /// `reduction max` along the channel axis.
    public var reduceMax: [SizeConstraint]?
    /// `correlation1d/2d_elementwise` and `cost_volume`.
    public var correlation: [SizeConstraint]?
    /// Activations that run as ops of their own (not fused), or `nil` if not published.
    public var standaloneActivations: [Activation]?
    /// Whether `concat` runs on the DPU (limits are "network-specific": feature-map size,
    /// quantization and compiler optimizations).
    public var concat: Bool
    /// Whether `strided_slice` runs on the DPU (batch and channel strides must be 1).
    public var stridedSlice: Bool

    /// Creates the limits; every op defaults to "not on the DPU".
    public init(
        conv: WindowLimits? = nil, depthwiseConv: WindowLimits? = nil,
        transposedConv: WindowLimits? = nil, depthwiseTransposedConv: WindowLimits? = nil,
        maxPool: WindowLimits? = nil, averagePool: WindowLimits? = nil,
        conv3d: WindowLimits? = nil, depthwiseConv3d: WindowLimits? = nil,
        transposedConv3d: WindowLimits? = nil, depthwiseTransposedConv3d: WindowLimits? = nil,
        eltwise: EltwiseLimits? = nil, resize: ResizeLimits? = nil, pad: PadLimits? = nil,
        reorg: ReorgLimits? = nil, argmax: [SizeConstraint]? = nil,
        reduceMax: [SizeConstraint]? = nil, correlation: [SizeConstraint]? = nil,
        standaloneActivations: Set<Activation>? = nil, concat: Bool = false, stridedSlice: Bool = false
    ) {
        self.conv = conv
        self.depthwiseConv = depthwiseConv
        self.transposedConv = transposedConv
        self.depthwiseTransposedConv = depthwiseTransposedConv
        self.maxPool = maxPool
        self.averagePool = averagePool
        self.conv3d = conv3d
        self.depthwiseConv3d = depthwiseConv3d
        self.transposedConv3d = transposedConv3d
        self.depthwiseTransposedConv3d = depthwiseTransposedConv3d
        self.eltwise = eltwise
        self.resize = resize
        self.pad = pad
        self.reorg = reorg
        self.argmax = argmax
        self.reduceMax = reduceMax
        self.correlation = correlation
        self.standaloneActivations = standaloneActivations.map(Activation.ordered)
        self.concat = concat
        self.stridedSlice = stridedSlice
    }

    private enum CodingKeys: String, CodingKey {
        case conv, depthwiseConv = "depthwise_conv", transposedConv = "transposed_conv"
        case depthwiseTransposedConv = "depthwise_transposed_conv", maxPool = "max_pool"
        case averagePool = "average_pool", conv3d, depthwiseConv3d = "depthwise_conv3d"
        case transposedConv3d = "transposed_conv3d", depthwiseTransposedConv3d = "depthwise_transposed_conv3d"
        case eltwise, resize, pad, reorg, argmax, reduceMax = "reduce_max", correlation
        case standaloneActivations = "standalone_activations", concat, stridedSlice = "strided_slice"
    }

    /// Encodes every op, writing `null` for one the DPU does not run, so the JSON
    /// always lists the same keys.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(conv, forKey: .conv)
        try container.encode(depthwiseConv, forKey: .depthwiseConv)
        try container.encode(transposedConv, forKey: .transposedConv)
        try container.encode(depthwiseTransposedConv, forKey: .depthwiseTransposedConv)
        try container.encode(maxPool, forKey: .maxPool)
        try container.encode(averagePool, forKey: .averagePool)
        try container.encode(conv3d, forKey: .conv3d)
        try container.encode(depthwiseConv3d, forKey: .depthwiseConv3d)
        try container.encode(transposedConv3d, forKey: .transposedConv3d)
        try container.encode(depthwiseTransposedConv3d, forKey: .depthwiseTransposedConv3d)
        try container.encode(eltwise, forKey: .eltwise)
        try container.encode(resize, forKey: .resize)
        try container.encode(pad, forKey: .pad)
        try container.encode(reorg, forKey: .reorg)
        try container.encode(argmax, forKey: .argmax)
        try container.encode(reduceMax, forKey: .reduceMax)
        try container.encode(correlation, forKey: .correlation)
        try container.encode(standaloneActivations, forKey: .standaloneActivations)
        try container.encode(concat, forKey: .concat)
        try container.encode(stridedSlice, forKey: .stridedSlice)
    }
}
