/// The DPU engine an operation runs on, as UG1414 names them (Convolution, Depthwise
/// Convolution, Pooling, Element-wise, Misc) plus the load and save engines that move data
/// between DDR and the on-chip banks.
///
/// Depthwise convolution, pooling and element-wise ops share the ALU of DPUCZDX8G, which
/// runs at its own pixel parallelism (``KilnTargets/DPUArchitecture/aluPixelParallelism``).
public enum DPUEngine: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The convolution engine: conv, transposed conv, fully connected (as a 1×1 conv).
    case conv
    /// Depthwise convolution, and per-channel scale/bias that are not folded (ALU).
    case depthwise
    /// Max and average pooling, global pooling (ALU).
    case pool
    /// Element-wise add and multiply of feature maps (ALU).
    case eltwise
    /// Resize, concat, reorg, channel argmax/max, standalone activations.
    case misc
    /// DDR → on-chip banks (an explicit load instruction).
    case load
    /// On-chip banks → DDR (an explicit save instruction).
    case save

    /// `conv`, `depthwise`, …
    public var description: String { rawValue }
}

/// The shape of a feature map as the DPU lays it out: spatial extent and channels.
///
/// Built from an ONNX `N×C×…` tensor by moving the batch into the first spatial axis, so
/// `[1, 64, 56, 56]` is `spatial [56, 56]`, `channels 64`. A fully connected layer's
/// `[1, 2048]` is `spatial [1]`, `channels 2048`.
public struct FeatureShape: Codable, Sendable, Hashable, CustomStringConvertible {
    /// Spatial extent, outermost first; the last entry is the row width the pixel
    /// parallelism runs along.
    public var spatial: [Int]
    /// Channels (the axis the channel parallelism runs along).
    public var channels: Int

    /// Creates a shape.
    public init(spatial: [Int], channels: Int) {
        self.spatial = spatial.isEmpty ? [1] : spatial
        self.channels = channels
    }

    /// The row width (the last spatial axis).
    public var width: Int { spatial.last ?? 1 }

    /// The number of rows (every spatial axis but the last, multiplied).
    public var rows: Int { spatial.dropLast().reduce(1, *) }

    /// Pixels (all spatial positions).
    public var pixels: Int { spatial.reduce(1, *) }

    /// Elements, which are bytes: DPU feature maps are int8.
    public var elements: Int { pixels * channels }

    /// `56x56x64`.
    public var description: String { (spatial + [channels]).map(String.init).joined(separator: "x") }
}

/// One feature map an operation reads, and whether it comes from DDR.
public struct FeatureInput: Codable, Sendable, Hashable {
    /// Its shape.
    public var shape: FeatureShape
    /// `false` when the producer left it in the on-chip banks (fused on chip).
    public var isLoaded: Bool

    /// Creates an input.
    public init(shape: FeatureShape, isLoaded: Bool = true) {
        self.shape = shape
        self.isLoaded = isLoaded
    }
}

/// One unit of DPU work: a layer of a DPU subgraph (derived from the graph by
/// ``DPUWorkload/build(from:)``) or, once the DPU compiler exists, one instruction.
///
/// It says what the engine computes (shapes, window, channels, MACs) and what crosses the
/// DDR boundary (weights, feature maps loaded, the feature map stored). ``DPUCostModel``
/// turns it into cycles and time.
///
/// ```swift
/// let conv = DPUOperation(
///     name: "conv1", op: "Conv", engine: .conv,
///     inputs: [FeatureInput(shape: FeatureShape(spatial: [224, 224], channels: 3))],
///     output: FeatureShape(spatial: [112, 112], channels: 64),
///     kernel: [7, 7], strides: [2, 2], weightBytes: 64 * 3 * 49 + 64)
/// conv.macs  // 118_013_952
/// ```
public struct DPUOperation: Codable, Sendable, Hashable {
    /// The node (or instruction) name.
    public var name: String
    /// What it computes, for people: `Conv`, `MaxPool`, `Add`, …
    public var op: String
    /// The engine.
    public var engine: DPUEngine
    /// The feature maps it reads.
    public var inputs: [FeatureInput]
    /// The feature map it writes.
    public var output: FeatureShape
    /// `false` when the result stays in the banks for the next operation (fused on chip).
    public var storesOutput: Bool
    /// The spatial window, outermost first (`[kh, kw]`); `[]` for element-wise work.
    public var kernel: [Int]
    /// The window's strides.
    public var strides: [Int]
    /// Channel groups of a convolution (1 unless grouped).
    public var groups: Int
    /// Whether the window is a transposed convolution's (each output pixel sees
    /// `ceil(k / stride)` taps per axis).
    public var isTransposed: Bool
    /// Weight and bias bytes (int8) loaded from DDR.
    public var weightBytes: Int
    /// Input channels of the window (all groups together).
    public var inputChannels: Int
    /// Multiply-accumulates (pooling: one accumulate or compare per window element).
    public var macs: Int

    /// Creates an operation; `macs` defaults to the window's count (conv engine:
    /// output elements × window × input channels per group; ALU: output elements × window).
    public init(
        name: String, op: String, engine: DPUEngine, inputs: [FeatureInput], output: FeatureShape,
        storesOutput: Bool = true, kernel: [Int] = [], strides: [Int] = [], groups: Int = 1,
        isTransposed: Bool = false, weightBytes: Int = 0, inputChannels: Int? = nil, macs: Int? = nil
    ) {
        self.name = name
        self.op = op
        self.engine = engine
        self.inputs = inputs
        self.output = output
        self.storesOutput = storesOutput
        self.kernel = kernel
        self.strides = strides.isEmpty ? kernel.map { _ in 1 } : strides
        self.groups = max(1, groups)
        self.isTransposed = isTransposed
        self.weightBytes = weightBytes
        self.inputChannels = inputChannels ?? inputs.first?.shape.channels ?? output.channels
        let window = kernel.reduce(1, *)
        self.macs = macs ?? {
            switch engine {
            case .conv:
                // A transposed conv's window runs over the input (each input pixel is spread).
                let pixels = isTransposed ? (inputs.first?.shape.pixels ?? output.pixels) : output.pixels
                let perGroup = (inputChannels ?? inputs.first?.shape.channels ?? 0) / max(1, groups)
                return pixels * output.channels * window * perGroup
            case .depthwise, .pool: return output.elements * window
            case .eltwise, .misc, .load, .save: return 0
            }
        }()
    }

    /// Feature-map bytes loaded from DDR.
    public var featureLoadBytes: Int { inputs.filter(\.isLoaded).reduce(0) { $0 + $1.shape.elements } }

    /// Feature-map bytes stored to DDR.
    public var storeBytes: Int { storesOutput ? output.elements : 0 }

    /// Output channels.
    public var outputChannels: Int { output.channels }
}
