import KilnCore
import KilnTargets

/// What ``Quantizer/quantize(_:calibration:config:progress:)`` does: the scheme, the
/// calibration method and the optional accuracy tools.
///
/// The defaults quantize for the DPU (power-of-two scales, minmax calibration) without a
/// target, so every operator the DPU can run is quantized.
///
/// ```swift
/// var config = QuantizationConfig()
/// config.method = .mse
/// config.target = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
/// ```
public struct QuantizationConfig: Sendable {
    /// How activation ranges are chosen. Weights always use the exact range search of
    /// their scheme (see `docs/dpu-arithmetic.md`).
    public var method: CalibrationMethod = .minmax
    /// The percentile of |x| that ``CalibrationMethod/percentile`` keeps (0 < p ≤ 100).
    public var percentile: Double = 99.99
    /// Power-of-two fix positions (the DPU scheme) or float scales (the CPU scheme).
    public var scale: ScaleKind = .pow2
    /// One weight scale per output channel (float scheme only).
    public var perChannel = false
    /// Signed int8 activations with zero point 0; `false` gives uint8 with a zero point
    /// (float scheme only).
    public var symmetricActivations = true
    /// The DPU whose rules shape the quantization; `nil` quantizes every DPU-capable op.
    public var target: DPUArchitecture? = nil
    /// Calibration samples to use at most (`nil`: all).
    public var calibrationSize: Int? = nil
    /// Cross-layer equalization before calibration.
    public var crossLayerEqualization = false
    /// Bias correction after calibration.
    public var biasCorrection = false
    /// AdaQuant-style fast finetune after calibration.
    public var fastFinetune = false
    /// Intra-op threads of the float executor.
    public var threads = 1

    /// The default configuration.
    public init() {}

    /// Checks that the options agree.
    ///
    /// - Throws: `invalidQuantizationConfig` for per-channel weights, asymmetric activations
    ///   or a DPU target with power-of-two scales, a DPU target with float scales, a
    ///   percentile outside (0, 100], a calibration size below 1.
    public func validate() throws {
        if scale == .pow2 && perChannel {
            throw KilnError(
                .invalidQuantizationConfig,
                "per-channel weights need float scales (--scale float): the DPU quantizes per tensor")
        }
        if scale == .pow2 && !symmetricActivations {
            throw KilnError(
                .invalidQuantizationConfig,
                "asymmetric activations need float scales (--scale float): the DPU quantizes symmetrically")
        }
        if scale == .float, let target {
            throw KilnError(
                .invalidQuantizationConfig,
                "target \(target.name) needs power-of-two scales; drop --scale float or the target")
        }
        if !(percentile > 0 && percentile <= 100) {
            throw KilnError(.invalidQuantizationConfig, "percentile \(percentile) must be in (0, 100]")
        }
        if let calibrationSize, calibrationSize < 1 {
            throw KilnError(.invalidQuantizationConfig, "calibration size \(calibrationSize) must be at least 1")
        }
    }
}
