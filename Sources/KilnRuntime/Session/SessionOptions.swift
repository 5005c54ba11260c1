import Foundation
import KilnCore
import KilnQuant

/// The options of an ``InferenceSession`` (onnxruntime's `SessionOptions`).
///
/// Defaults come from the environment: `KILN_QUANT_SIZE` (alias `PX_QUANT_SIZE`, else 128)
/// and `KILN_BUILD_DIR` (alias `PX_BUILD_DIR`, else none).
///
/// ```swift
/// var options = SessionOptions()
/// options.executor = .vm
/// options.quantSize = 8
/// let session = try InferenceSession(contentsOf: url, target: arch, options: options)
/// ```
public struct SessionOptions: Sendable {
    /// The default number of on-the-fly calibration samples.
    public static let defaultQuantSize = 128

    /// Which executor runs the model (the calibration phase runs the float model on the
    /// quantizer's interpreter whatever this is).
    public var executor: ExecutorKind = .auto
    /// Intra-op threads (CPU kernels and the DPU emulator).
    public var threads = 1
    /// How many inputs an uncalibrated artifact observes before it quantizes (N).
    public var quantSize: Int
    /// The build directory (calibrated, compiled artifacts by key), or none.
    public var buildDirectory: URL?
    /// Quantization options for on-the-fly calibration; `nil` means the quantizer's defaults.
    /// The session sets the target and the calibration size.
    public var quantization: QuantizationConfig?
    /// Load an artifact compiled for another fingerprint and recompile its DPU programs for
    /// the session's target (instead of refusing it).
    public var allowRecompile = false

    /// Options with the defaults read from `environment`.
    ///
    /// A `KILN_QUANT_SIZE` that is not a positive integer is ignored (the default applies);
    /// ``InferenceSession`` reports it as an event.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        quantSize = Self.quantSize(in: environment) ?? Self.defaultQuantSize
        buildDirectory = BuildCache.fromEnvironment(environment)?.directory
    }

    /// `KILN_QUANT_SIZE` (or `PX_QUANT_SIZE`) as a positive integer, if set and valid.
    public static func quantSize(in environment: [String: String]) -> Int? {
        guard let text = environment["KILN_QUANT_SIZE"] ?? environment["PX_QUANT_SIZE"],
            let value = Int(text.trimmingCharacters(in: .whitespaces)), value > 0
        else { return nil }
        return value
    }
}

/// Where an ``InferenceSession`` stands.
public enum SessionPhase: Sendable, Equatable, CustomStringConvertible {
    /// Uncalibrated: runs in float and observes; `observed` of `of` inputs seen.
    case calibrating(observed: Int, of: Int)
    /// Calibrated and compiled: DPU subgraphs run on the DPU (emulator).
    case accelerated
    /// Nothing to accelerate: the model has no DPU subgraph for the target.
    case floatOnly

    /// `calibrating 3/8`, `accelerated`, `float-only`.
    public var description: String {
        switch self {
        case .calibrating(let observed, let total): "calibrating \(observed)/\(total)"
        case .accelerated: "accelerated"
        case .floatOnly: "float-only"
        }
    }
}

/// Wall-clock times of an ``InferenceSession``, in seconds.
public struct SessionTimings: Codable, Sendable, Equatable {
    /// Float, observed runs of the calibration phase, summed.
    public var calibration: Double = 0
    /// Calibration runs.
    public var calibrationRuns = 0
    /// Finishing quantization and compiling the DPU subgraphs (and rebuilding the executor).
    public var quantizeAndCompile: Double = 0
    /// Runs once accelerated, summed.
    public var accelerated: Double = 0
    /// Accelerated runs.
    public var acceleratedRuns = 0

    enum CodingKeys: String, CodingKey {
        case calibration = "calibration_seconds"
        case calibrationRuns = "calibration_runs"
        case quantizeAndCompile = "quantize_compile_seconds"
        case accelerated = "accelerated_seconds"
        case acceleratedRuns = "accelerated_runs"
    }

    /// One line, e.g. `calibration 8 runs 1.20 s; quantize+compile 0.40 s; accelerated 4 runs 0.30 s (75.0 ms/run)`.
    public var summary: String {
        var parts = [String(format: "calibration %d runs %.3f s", calibrationRuns, calibration)]
        parts.append(String(format: "quantize+compile %.3f s", quantizeAndCompile))
        let perRun = acceleratedRuns > 0 ? accelerated / Double(acceleratedRuns) * 1000 : 0
        parts.append(String(format: "accelerated %d runs %.3f s (%.1f ms/run)", acceleratedRuns, accelerated, perRun))
        return parts.joined(separator: "; ")
    }
}

/// Something an ``InferenceSession`` reports: a phase switch, a build-dir hit, a corrupt
/// build-dir entry (a warning).
public struct SessionEvent: Sendable, Equatable, CustomStringConvertible {
    /// How much it matters.
    public enum Level: String, Sendable {
        case info, warning
    }

    /// How much it matters.
    public var level: Level
    /// One line.
    public var message: String

    /// `warning: …` or `info: …`.
    public var description: String { "\(level.rawValue): \(message)" }
}
