/// The sizes of one layer that the DPU's limits are checked against.
///
/// Fields an op does not have keep their defaults (1 for strides, dilation, depth and
/// scale; 0 for channel counts, which no limit then rejects).
public struct LayerGeometry: Sendable, Hashable {
    /// Kernel (window) width.
    public var kernelWidth: Int
    /// Kernel (window) height.
    public var kernelHeight: Int
    /// Kernel depth (3-D ops only).
    public var kernelDepth: Int
    /// Horizontal stride.
    public var strideWidth: Int
    /// Vertical stride.
    public var strideHeight: Int
    /// Dilation (the larger of the two axes).
    public var dilation: Int
    /// Input channels.
    public var inputChannels: Int
    /// Output channels.
    public var outputChannels: Int
    /// Integer up-scaling factor (resize).
    public var scale: Int

    /// Creates a geometry; every argument has a neutral default.
    public init(
        kernelWidth: Int = 1, kernelHeight: Int = 1, kernelDepth: Int = 1,
        strideWidth: Int = 1, strideHeight: Int = 1, dilation: Int = 1,
        inputChannels: Int = 0, outputChannels: Int = 0, scale: Int = 1
    ) {
        self.kernelWidth = kernelWidth
        self.kernelHeight = kernelHeight
        self.kernelDepth = kernelDepth
        self.strideWidth = strideWidth
        self.strideHeight = strideHeight
        self.dilation = dilation
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.scale = scale
    }
}

/// A published size rule that ties several of a layer's sizes together.
///
/// Each case is one formula of UG1414 Table 28 ("Currently Supported Operators") with the
/// architecture's numbers filled in, so a rule reads the same in the catalog, in `kiln
/// query` and in a partition reason (``description``). Simple per-axis ranges (kernel,
/// stride) live in ``WindowLimits`` instead.
public enum SizeConstraint: Codable, Sendable, Hashable, CustomStringConvertible {
    /// `kw·kh·ceil(ic/channelParallel) ≤ max`: one output pixel's weights fit the bank depth.
    case kernelAreaTimesChannelGroups(channelParallel: Int, max: Int)
    /// `ic ≤ max` (usually 256 × channel parallelism).
    case inputChannels(max: Int)
    /// `oc ≤ max` (usually 256 × channel parallelism).
    case outputChannels(max: Int)
    /// `dilation·ic ≤ max`.
    case dilationTimesInputChannels(max: Int)
    /// `kw·kh ≤ max`.
    case kernelArea(max: Int)
    /// `kw·kh·ceil(ic/block) ≤ max` (DPUCVDX8G conv2d: block 2048, max 64).
    case kernelAreaTimesChannelBlocks(block: Int, max: Int)
    /// `ceil(kh/banks)·kw ≤ max`: a pooling window fits the image banks.
    case kernelRowsPerBankTimesWidth(banks: Int, max: Int)
    /// `(strideFactor·sw + kw)·kh + offset ≤ max` (DPUCV2DX8G depthwise conv: 6, 4, 512).
    case strideWindow(strideFactor: Int, offset: Int, max: Int)
    /// `kw == kh` (average pooling on some DPUs).
    case squareKernel
    /// `kw·kh·ceil(ceil(ic/align)·align·kd/block) ≤ max` (DPUCVDX8G conv3d: 16, 2048, 64).
    case volumeChannelBlocks(align: Int, block: Int, max: Int)
    /// `stride²·ic ≤ max` (reorg / space-to-depth).
    case strideSquaredTimesInputChannels(max: Int)
    /// `ceil(scale/banks)·scale·ceil(ic/channelParallel) ≤ max` (nearest resize).
    case nearestScale(banks: Int, channelParallel: Int, max: Int)
    /// `dilation > 1 ⇒ stride = 1`: a dilated convolution must not also be strided.
    ///
    /// Not a row of UG1414 Table 28 (Kiln's conservative reading): the guide maps dilated
    /// convolutions only through TensorFlow's SpaceToBatchND + Conv2D + BatchToSpaceND
    /// pattern, which expresses stride 1 only, and TensorFlow's `conv2d` rejects dilation
    /// with stride. A partition that keeps such a layer on the CPU is slower, never wrong.
    case unitStrideWhenDilated

    // JSON: {"kernel_area_times_channel_groups": {"channel_parallel": 16, "max": 2048}}.
    private enum CodingKeys: String, CodingKey {
        case kernelAreaTimesChannelGroups = "kernel_area_times_channel_groups"
        case inputChannels = "input_channels"
        case outputChannels = "output_channels"
        case dilationTimesInputChannels = "dilation_times_input_channels"
        case kernelArea = "kernel_area"
        case kernelAreaTimesChannelBlocks = "kernel_area_times_channel_blocks"
        case kernelRowsPerBankTimesWidth = "kernel_rows_per_bank_times_width"
        case strideWindow = "stride_window"
        case squareKernel = "square_kernel"
        case volumeChannelBlocks = "volume_channel_blocks"
        case strideSquaredTimesInputChannels = "stride_squared_times_input_channels"
        case nearestScale = "nearest_scale"
        case unitStrideWhenDilated = "unit_stride_when_dilated"
    }

    private enum KernelAreaTimesChannelGroupsCodingKeys: String, CodingKey {
        case channelParallel = "channel_parallel", max
    }

    private enum StrideWindowCodingKeys: String, CodingKey {
        case strideFactor = "stride_factor", offset, max
    }

    private enum NearestScaleCodingKeys: String, CodingKey {
        case banks, channelParallel = "channel_parallel", max
    }

    /// Whether `layer` satisfies the rule.
    public func isSatisfied(by layer: LayerGeometry) -> Bool {
        let area = layer.kernelWidth * layer.kernelHeight
        switch self {
        case .kernelAreaTimesChannelGroups(let channelParallel, let max):
            return area * ceilDivide(layer.inputChannels, channelParallel) <= max
        case .inputChannels(let max):
            return layer.inputChannels <= max
        case .outputChannels(let max):
            return layer.outputChannels <= max
        case .dilationTimesInputChannels(let max):
            return layer.dilation * layer.inputChannels <= max
        case .kernelArea(let max):
            return area <= max
        case .kernelAreaTimesChannelBlocks(let block, let max):
            return area * ceilDivide(layer.inputChannels, block) <= max
        case .kernelRowsPerBankTimesWidth(let banks, let max):
            return ceilDivide(layer.kernelHeight, banks) * layer.kernelWidth <= max
        case .strideWindow(let strideFactor, let offset, let max):
            return (strideFactor * layer.strideWidth + layer.kernelWidth) * layer.kernelHeight + offset <= max
        case .squareKernel:
            return layer.kernelWidth == layer.kernelHeight
        case .volumeChannelBlocks(let align, let block, let max):
            let aligned = ceilDivide(layer.inputChannels, align) * align
            return area * ceilDivide(aligned * layer.kernelDepth, block) <= max
        case .strideSquaredTimesInputChannels(let max):
            return layer.strideWidth * layer.strideHeight * layer.inputChannels <= max
        case .nearestScale(let banks, let channelParallel, let max):
            return ceilDivide(layer.scale, banks) * layer.scale * ceilDivide(layer.inputChannels, channelParallel) <= max
        case .unitStrideWhenDilated:
            return layer.dilation == 1 || (layer.strideWidth == 1 && layer.strideHeight == 1)
        }
    }

    /// The formula with its numbers, e.g. `kw·kh·ceil(ic/16) ≤ 2048`.
    public var description: String {
        switch self {
        case .kernelAreaTimesChannelGroups(let channelParallel, let max):
            "kw·kh·ceil(ic/\(channelParallel)) ≤ \(max)"
        case .inputChannels(let max): "ic ≤ \(max)"
        case .outputChannels(let max): "oc ≤ \(max)"
        case .dilationTimesInputChannels(let max): "dilation·ic ≤ \(max)"
        case .kernelArea(let max): "kw·kh ≤ \(max)"
        case .kernelAreaTimesChannelBlocks(let block, let max): "kw·kh·ceil(ic/\(block)) ≤ \(max)"
        case .kernelRowsPerBankTimesWidth(let banks, let max): "ceil(kh/\(banks))·kw ≤ \(max)"
        case .strideWindow(let strideFactor, let offset, let max): "(\(strideFactor)·sw + kw)·kh + \(offset) ≤ \(max)"
        case .squareKernel: "kw = kh"
        case .volumeChannelBlocks(let align, let block, let max):
            "kw·kh·ceil(ceil(ic/\(align))·\(align)·kd/\(block)) ≤ \(max)"
        case .strideSquaredTimesInputChannels(let max): "stride²·ic ≤ \(max)"
        case .nearestScale(let banks, let channelParallel, let max):
            "ceil(scale/\(banks))·scale·ceil(ic/\(channelParallel)) ≤ \(max)"
        case .unitStrideWhenDilated: "dilation > 1 needs stride 1"
        }
    }
}

/// `ceil(numerator / denominator)` for non-negative numerators and positive denominators.
private func ceilDivide(_ numerator: Int, _ denominator: Int) -> Int {
    (numerator + denominator - 1) / denominator
}
