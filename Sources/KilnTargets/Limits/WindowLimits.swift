/// The largest padding a windowed op accepts on each side.
///
/// UG1414 states padding limits as `[minimum, (k − 1)·dilation]` or
/// `[minimum, min(k − 1, cap)·dilation]`; ``maximum(kernel:dilation:)`` evaluates them.
public struct PaddingLimit: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The smallest padding accepted (0, or 1 where Table 28 prints `[1, k−1]`).
    public var minimum: Int
    /// The cap on `k − 1` (15 for the ALU engines), or `nil` for none.
    public var cap: Int?
    /// Whether the limit is multiplied by the dilation.
    public var scalesWithDilation: Bool

    /// Creates a limit `[minimum, min(k − 1, cap)·(dilation?)]`.
    public init(minimum: Int = 0, cap: Int? = nil, scalesWithDilation: Bool = false) {
        self.minimum = minimum
        self.cap = cap
        self.scalesWithDilation = scalesWithDilation
    }

    /// The largest padding accepted for a kernel size and dilation.
    public func maximum(kernel: Int, dilation: Int = 1) -> Int {
        let base = Swift.min(kernel - 1, cap ?? Int.max)
        return scalesWithDilation ? base * dilation : base
    }

    private enum CodingKeys: String, CodingKey {
        case minimum, cap, scalesWithDilation = "scales_with_dilation"
    }

    /// `0..(k−1)·dilation` or `0..min(k−1, 15)`.
    public var description: String {
        let base = cap.map { "min(k−1, \($0))" } ?? "(k−1)"
        let upper = scalesWithDilation ? "\(base)·dilation" : (cap == nil ? "k−1" : base)
        return "\(minimum)..\(upper)"
    }
}

/// The limits of one windowed op (convolution, pooling) on one architecture.
///
/// A `nil` range means the source gives no range for it; an op the DPU does not run
/// at all is a `nil` ``WindowLimits`` in ``OperatorLimits``.
public struct WindowLimits: Codable, Sendable, Hashable {
    /// Kernel width and height (each).
    public var kernel: AllowedSizes?
    /// Kernel depth (3-D ops only).
    public var kernelDepth: AllowedSizes?
    /// Stride along width and height (each).
    public var stride: IntRange?
    /// Stride along depth (3-D ops only).
    public var strideDepth: IntRange?
    /// `kernel / stride` along each axis (transposed convolutions).
    public var kernelOverStride: AllowedSizes?
    /// Padding on each side.
    public var padding: PaddingLimit?
    /// Activations that fuse into the op, in canonical order.
    public var activations: [Activation]
    /// Rules tying several sizes together.
    public var constraints: [SizeConstraint]

    /// Creates limits; the activations are stored in canonical order.
    public init(
        kernel: AllowedSizes? = nil, kernelDepth: AllowedSizes? = nil,
        stride: IntRange? = nil, strideDepth: IntRange? = nil,
        kernelOverStride: AllowedSizes? = nil, padding: PaddingLimit? = nil,
        activations: Set<Activation> = [], constraints: [SizeConstraint] = []
    ) {
        self.kernel = kernel
        self.kernelDepth = kernelDepth
        self.stride = stride
        self.strideDepth = strideDepth
        self.kernelOverStride = kernelOverStride
        self.padding = padding
        self.activations = Activation.ordered(activations)
        self.constraints = constraints
    }

    private enum CodingKeys: String, CodingKey {
        case kernel, kernelDepth = "kernel_depth", stride, strideDepth = "stride_depth"
        case kernelOverStride = "kernel_over_stride", padding, activations, constraints
    }
}
