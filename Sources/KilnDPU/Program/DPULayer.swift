import KilnCore

/// One layer of a ``DPUProgram``: an integer pipeline with every parameter resolved.
public struct DPULayer: Codable, Sendable, Equatable {
    /// The graph node it comes from (the main node of a fused layer).
    public var name: String
    /// The ONNX op, for people (`Conv`, `Add`, …).
    public var op: String
    /// Input buffers, in operand order.
    public var inputs: [Int]
    /// The output buffer.
    public var output: Int
    /// What it computes.
    public var operation: DPULayerOperation
}

/// The integer pipeline of a layer.
public enum DPULayerOperation: Codable, Sendable, Equatable {
    /// Convolution, depthwise or transposed convolution, fully connected.
    case conv(DPUConvolution)
    /// Max or average pooling.
    case pool(DPUPooling)
    /// Element-wise add or multiply.
    case elementwise(DPUElementwise)
    /// Standalone activation, hard sigmoid, hard swish.
    case unary(DPUUnary)
    /// Concatenation along a graph axis (inputs and output share one fix position).
    case concat(axis: Int)
    /// Transposition of the graph axes.
    case transpose(permutation: [Int])
    /// Reshape, flatten, squeeze, unsqueeze, identity: the elements in graph order, unchanged.
    case copy
    /// Other pure data movement (slice, split, pad, nearest resize): the ONNX op evaluated on
    /// the int8 values, which it moves unchanged.
    case remap(DPURemap)
}

/// A convolution's parameters. The equivalent stride-1 form of a transposed convolution has
/// ``inputUpsampling`` > 1 (zeros between input pixels) and flipped weights.
public struct DPUConvolution: Codable, Sendable, Equatable {
    /// Window `[kh, kw]`.
    public var kernel: [Int]
    /// Strides `[sh, sw]`.
    public var strides: [Int]
    /// Dilations `[dh, dw]`.
    public var dilations: [Int]
    /// Padding before the first row and column (may be negative: a crop).
    public var padBegin: [Int]
    /// Zero-insertion factor of the input (transposed convolution), `[1, 1]` otherwise.
    public var inputUpsampling: [Int]
    /// Depthwise (DWCONV): each output channel reads input channel `oc / multiplier`.
    public var isDepthwise: Bool
    /// Input channels.
    public var inputChannels: Int
    /// Output channels.
    public var outputChannels: Int
    /// Input channels padded to the input-channel parallelism (conv), 1 for depthwise.
    public var paddedInputChannels: Int
    /// Packed weights. Conv: per block of `OCP` output channels, a row-major `K × OCP` matrix
    /// (`K = kh·kw·paddedInputChannels`, row `(ky·kw + kx)·paddedInputChannels + ci`).
    /// Depthwise: per block, `kh·kw × OCP`.
    public var weights: DPUBlobRange
    /// One int8 bias per output channel, if any.
    public var bias: DPUBlobRange?
    /// `p_x + p_w − p_b`.
    public var shiftBias: Int
    /// `p_x + p_w − p_y`.
    public var shiftCut: Int
    /// The fused activation.
    public var activation: FixedPoint.Activation?
    /// The output's fix position.
    public var outputPosition: Int

    /// `K`, the rows of one weight block.
    public var reduction: Int { kernel.reduce(1, *) * paddedInputChannels }
}

/// A pooling layer's parameters.
public struct DPUPooling: Codable, Sendable, Equatable {
    /// Max or average.
    public var isMax: Bool
    /// Window `[kh, kw]`.
    public var kernel: [Int]
    /// Strides.
    public var strides: [Int]
    /// Dilations.
    public var dilations: [Int]
    /// Padding before the first row and column.
    public var padBegin: [Int]
    /// Input fix position.
    public var inputPosition: Int
    /// Output fix position.
    public var outputPosition: Int
}

/// An element-wise layer's parameters.
public struct DPUElementwise: Codable, Sendable, Equatable {
    /// Add (else multiply).
    public var isAdd: Bool
    /// The operands' fix positions.
    public var inputPositions: [Int]
    /// The output's fix position.
    public var outputPosition: Int
    /// The fused activation (add).
    public var activation: FixedPoint.Activation?
    /// `shift_read` of each operand (add: `p_i − min p`), for people and the ISA listing.
    public var shiftRead: [Int]
    /// `shift_write` (add: `min p − p_y`; mul: `p_a + p_b − p_y`).
    public var shiftWrite: Int
}

/// A one-operand layer's parameters.
public struct DPUUnary: Codable, Sendable, Equatable {
    /// Which function.
    public enum Function: String, Codable, Sendable {
        /// ReLU / ReLU6 / LeakyReLU (``DPUUnary/activation``).
        case activation
        /// `relu6(x + 3) · 2731 / 2^14`.
        case hardSigmoid
        /// `x · hard_sigmoid(x)`.
        case hardSwish
    }

    /// Which function.
    public var function: Function
    /// The activation of an `activation` layer.
    public var activation: FixedPoint.Activation?
    /// Input fix position.
    public var inputPosition: Int
    /// Output fix position.
    public var outputPosition: Int
}

/// A data-movement op kept as its ONNX form: op, attributes and constant operands, as a
/// one-node graph document (see `KilnIR.GraphDocument`).
public struct DPURemap: Codable, Sendable, Equatable {
    /// The one-node graph (its inputs: the data operands; its initializers: the constants).
    public var graph: String
    /// The constants the graph names, by symbol.
    public var constants: [String: DPUConstant]
    /// Which of the graph's outputs this layer writes (a split has several).
    public var output: Int
}

/// A small constant tensor (shapes, indices, scales) of a ``DPURemap``.
public struct DPUConstant: Codable, Sendable, Equatable {
    /// The element type's name (`int64`, `float32`).
    public var dtype: String
    /// The shape.
    public var shape: [Int]
    /// The elements (exact for the int64 and float32 values these ops carry).
    public var values: [Double]
}
