import Foundation
import KilnQuant
import KilnTargets

/// The artifact's header (the `header` section, JSON): who wrote it, for which target, from
/// which model, and whether it is calibrated.
///
/// ```json
/// {"fingerprint":"0x101000016010406","model_sha256":"9f2c…","producer":"kiln 0.1.0",
///  "quantization":{"state":"uncalibrated"},"target":"DPUCZDX8G_ISA1_B4096"}
/// ```
///
/// Fields are only ever added, and an added field is optional (an older file lacks it).
public struct ArtifactHeader: Codable, Sendable, Equatable {
    /// The writer, e.g. `kiln 0.1.0`.
    public var producer: String
    /// The DPU target's catalog name, e.g. `DPUCZDX8G_ISA1_B4096`.
    public var target: String
    /// The DPU configuration the DPU programs were compiled for.
    public var fingerprint: Fingerprint
    /// The SHA-256 of the source ONNX file's bytes, 64 hex digits (the build-cache key).
    public var modelSHA256: String
    /// Calibrated (with the plan) or not yet.
    public var quantization: QuantizationState

    /// Creates a header.
    ///
    /// - Parameters:
    ///   - producer: The writer and its version, e.g. `kiln 0.1.0`.
    ///   - target: The DPU target's catalog name.
    ///   - fingerprint: The target's fingerprint.
    ///   - modelSHA256: ``Checksum/sha256Hex(_:)`` of the source model's bytes.
    ///   - quantization: The quantization state.
    public init(
        producer: String, target: String, fingerprint: Fingerprint, modelSHA256: String,
        quantization: QuantizationState
    ) {
        self.producer = producer
        self.target = target
        self.fingerprint = fingerprint
        self.modelSHA256 = modelSHA256
        self.quantization = quantization
    }

    enum CodingKeys: String, CodingKey {
        case producer, target, fingerprint, modelSHA256 = "model_sha256", quantization
    }
}

/// Whether an artifact's DPU subgraphs are calibrated.
///
/// JSON: `{"state": "uncalibrated"}` or `{"state": "calibrated", "plan": {…}}` with the
/// ``KilnQuant/QuantizationPlan`` (as `OUT.quant.json` holds it).
public enum QuantizationState: Codable, Sendable, Equatable {
    /// No calibration yet: the session quantizes on the fly from the first inputs.
    case uncalibrated
    /// Calibrated with this plan.
    case calibrated(QuantizationPlan)

    private enum CodingKeys: String, CodingKey { case state, plan }

    /// `uncalibrated`, or `calibrated (N tensors, method)`.
    public var summary: String {
        switch self {
        case .uncalibrated: "uncalibrated"
        case .calibrated(let plan):
            "calibrated (\(plan.tensors.count) tensors, \(plan.method.rawValue), \(plan.scale.rawValue) scales, "
                + "\(plan.calibrationSamples) samples)"
        }
    }

    /// Decodes the state and, when calibrated, the plan.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .state) {
        case "uncalibrated": self = .uncalibrated
        case "calibrated": self = .calibrated(try container.decode(QuantizationPlan.self, forKey: .plan))
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .state, in: container, debugDescription: "unknown quantization state '\(other)'")
        }
    }

    /// Encodes the state and, when calibrated, the plan.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .uncalibrated:
            try container.encode("uncalibrated", forKey: .state)
        case .calibrated(let plan):
            try container.encode("calibrated", forKey: .state)
            try container.encode(plan, forKey: .plan)
        }
    }
}
