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
    public static func fixPosition(_ position: Int, roundMode: RoundMode, method: CalibrationMethod? = nil) -> TensorQuantization {
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
        case dtype, bitWidth = "bit_width", fixPosition = "fix_position", scales, zeroPoints = "zero_points"
        case axis, roundMode = "round_mode", method, note
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

    /// Creates a plan.
    public init(
        scale: ScaleKind, target: String?, method: CalibrationMethod, calibrationSamples: Int,
        tensors: [String: TensorQuantization] = [:], adjustments: [String] = []
    ) {
        self.scale = scale
        self.target = target
        self.method = method
        self.calibrationSamples = calibrationSamples
        self.tensors = tensors
        self.adjustments = adjustments
    }

    enum CodingKeys: String, CodingKey {
        case version, scale, target, method, calibrationSamples = "calibration_samples", tensors, adjustments
    }
}
