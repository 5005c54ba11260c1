import Foundation
import KilnCore

/// How calibration turns observed values into a clipping range.
public enum CalibrationMethod: String, CaseIterable, Codable, Sendable {
    /// The observed minimum and maximum.
    case minmax
    /// A percentile of |x| (default 99.99) — robust to outliers.
    case percentile
    /// The threshold minimizing KL divergence between the float and quantized histograms (TensorRT-style).
    case entropy
    /// The threshold (or, for power-of-two scales, the fix position) minimizing quantization MSE
    /// — Vitis AI's "diffs" method.
    case mse
}

/// How scales are represented.
public enum ScaleKind: String, CaseIterable, Codable, Sendable {
    /// Power-of-two scales (`2^-p`, a fix position `p`): the DPU scheme.
    case pow2
    /// Arbitrary float scales with zero points: the CPU / onnxruntime scheme.
    case float
}

/// The quantization of one tensor.
///
/// Real value = `(q − zeroPoint) · scale`; for power-of-two scales `scale = 2^-fixPosition`
/// and `zeroPoint = 0`. Per-channel quantization has one scale and zero point per index of
/// `axis`.
public struct TensorQuantization: Codable, Sendable, Equatable {
    /// The integer type (`int8` for the DPU; `int8`/`uint8` for the CPU scheme).
    public var dtype: DType
    /// Bit width (8).
    public var bitWidth: Int
    /// Fix position for power-of-two scales; `nil` for float scales.
    public var fixPosition: Int?
    /// One scale per tensor, or one per channel along `axis`.
    public var scales: [Float]
    /// Zero points, matching `scales`.
    public var zeroPoints: [Int]
    /// The channel axis of per-channel quantization; `nil` for per-tensor.
    public var axis: Int?
    /// How values are rounded when quantized.
    public var roundMode: RoundMode
    /// The calibration method that chose the range (`nil` for weights and biases, which use
    /// their exact range, and for positions derived from others, e.g. concat alignment).
    public var method: CalibrationMethod?
    /// Why the position is not the calibrated one (e.g. "aligned with concat output"), if so.
    public var note: String?

    /// A power-of-two, per-tensor, symmetric int8 quantization.
    public static func fixPosition(_ position: Int, roundMode: RoundMode, method: CalibrationMethod? = nil)
        -> TensorQuantization
    {
        TensorQuantization(
            dtype: .int8, bitWidth: 8, fixPosition: position, scales: [Float(exp2(Double(-position)))],
            zeroPoints: [0], axis: nil, roundMode: roundMode, method: method, note: nil)
    }

    /// The integer range of `dtype` at `bitWidth`.
    public var integerRange: ClosedRange<Int> {
        switch dtype {
        case .uint8, .uint16: 0...((1 << bitWidth) - 1)
        default: -(1 << (bitWidth - 1))...((1 << (bitWidth - 1)) - 1)
        }
    }

    enum CodingKeys: String, CodingKey {
        case dtype
        case bitWidth = "bit_width"
        case fixPosition = "fix_position"
        case scales
        case zeroPoints = "zero_points"
        case axis
        case roundMode = "round_mode"
        case method, note
    }
}

/// Every quantized tensor of a graph, by value name — what `OUT.quant.json` holds.
public struct QuantizationPlan: Codable, Sendable, Equatable {
    /// Format version of the JSON document; fields are only ever added.
    public var version: Int = 1
    /// The scale kind of the scheme.
    public var scale: ScaleKind
    /// The DPU target whose rules shaped the plan, if any.
    public var target: String?
    /// The calibration method used for activations.
    public var method: CalibrationMethod
    /// Calibration samples used.
    public var calibrationSamples: Int
    /// Quantization by value name (activations, weights, biases).
    public var tensors: [String: TensorQuantization]
    /// Adjustments made to satisfy the DPU's rules, in order, one line each.
    public var adjustments: [String]
    /// The DPU layers (power-of-two plans): which nodes compute together with which integer
    /// pipeline, in graph order. Empty for float plans. Added in version 1; absent reads as empty.
    public var layers: [LayerQuantization]

    /// Creates a plan.
    public init(
        scale: ScaleKind, target: String?, method: CalibrationMethod, calibrationSamples: Int,
        tensors: [String: TensorQuantization] = [:], adjustments: [String] = [], layers: [LayerQuantization] = []
    ) {
        self.scale = scale
        self.target = target
        self.method = method
        self.calibrationSamples = calibrationSamples
        self.tensors = tensors
        self.adjustments = adjustments
        self.layers = layers
    }

    /// Decodes a plan; `layers` may be absent.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int.self, forKey: .version)
        scale = try container.decode(ScaleKind.self, forKey: .scale)
        target = try container.decodeIfPresent(String.self, forKey: .target)
        method = try container.decode(CalibrationMethod.self, forKey: .method)
        calibrationSamples = try container.decode(Int.self, forKey: .calibrationSamples)
        tensors = try container.decode([String: TensorQuantization].self, forKey: .tensors)
        adjustments = try container.decode([String].self, forKey: .adjustments)
        layers = try container.decodeIfPresent([LayerQuantization].self, forKey: .layers) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case version, scale, target, method
        case calibrationSamples = "calibration_samples"
        case tensors, adjustments, layers
    }
}

/// One DPU layer of a power-of-two plan: a node (and the activation fused into it) that
/// the DPU computes with one integer pipeline, as `docs/dpu-arithmetic.md` states.
///
/// Values are named as in the graph; their fix positions are in ``QuantizationPlan/tensors``.
/// ``shifts`` repeats what follows from those positions (`shift_cut`, `shift_bias`,
/// `shift_read_<i>`, `shift_write`, `hsigmoid_in`, `shift_hsigmoid`, `shift_hswish`,
/// `avgpool_multiplier`, `avgpool_shift`), the names the DPU compiler uses.
public struct LayerQuantization: Codable, Sendable, Equatable {
    /// The integer pipeline.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// Convolution (also depthwise and transposed): int accumulate, bias by `shift_bias`, `shift_cut`.
        case conv
        /// Fully connected (`Gemm`), as a 1×1 convolution.
        case gemm
        /// Element-wise sum of aligned inputs (`shift_read`, `shift_write`).
        case add
        /// Element-wise product (`shift_write`).
        case mul
        /// Average pooling by the DPU multiplier (`avgpool_multiplier / 2^avgpool_shift`).
        case averagePool
        /// `relu6(x + 3) · 2731 / 2^14`.
        case hardSigmoid
        /// `x · hard_sigmoid(x)`, the inner hard-sigmoid at fix position 7.
        case hardSwish
        /// An activation the DPU runs on its own (ReLU, ReLU6, LeakyReLU 26/256).
        case activation
    }

    /// An activation applied before rounding (the DPU's own set).
    public typealias Activation = FixedPoint.Activation

    /// The name of the layer's first node.
    public var name: String
    /// The pipeline.
    public var kind: Kind
    /// The graph nodes the layer covers: the main node, then the fused activation if any.
    public var nodes: [String]
    /// The activation inputs, in operand order.
    public var inputs: [String]
    /// The weight (`conv`, `gemm`), if any.
    public var weight: String?
    /// The bias (`conv`, `gemm`), if any.
    public var bias: String?
    /// The value holding the layer's result (the fused activation's output when there is one).
    public var output: String
    /// The activation applied before rounding (fused into `conv`, `gemm`, `add`; the op of an
    /// `activation` layer).
    public var activation: Activation?
    /// Shift amounts and multipliers by their DPU names.
    public var shifts: [String: Int]

    /// Creates a layer.
    public init(
        name: String, kind: Kind, nodes: [String], inputs: [String], weight: String? = nil, bias: String? = nil,
        output: String, activation: Activation? = nil, shifts: [String: Int] = [:]
    ) {
        self.name = name
        self.kind = kind
        self.nodes = nodes
        self.inputs = inputs
        self.weight = weight
        self.bias = bias
        self.output = output
        self.activation = activation
        self.shifts = shifts
    }
}
