import ArgumentParser
import Foundation
import KilnCore
import KilnONNX
import KilnQuant
import KilnTargets
import Logging

/// `kiln quantize`: post-training quantization of an ONNX model from calibration data, to
/// an ONNX QDQ model, its plan (`OUT.quant.json`) and an SQNR report.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a model to int8 from calibration data: an ONNX QDQ model, its plan and an SQNR report.",
        discussion: """
            Calibration data: an .npz with one array per model input (an extra leading axis \
            counts samples; an array of the input's rank is split along its batch axis), or a \
            directory of .npy/.npz files, one sample each. Bad data (unknown or missing input \
            names, wrong shapes or dtypes, an empty set, NaN/Inf) fails before any work. \
            The default scheme is the DPU's: symmetric int8, power-of-two scales (fix \
            positions), half-up rounding. --scale float quantizes for int8 CPU execution \
            (onnxruntime) instead. Writes OUT.onnx and OUT.quant.json beside it (atomically) \
            and prints the per-layer SQNR report (--json: one JSON document).
            """
    )

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(help: "Calibration data: an .npz file or a directory of .npy/.npz files.")
    var calib: String

    @Option(help: "How activation ranges are calibrated: minmax, percentile, entropy or mse.")
    var method: CalibrationMethod = .minmax

    @Option(help: "The percentile of |x| that --method percentile keeps.")
    var percentile: Double = 99.99

    @Option(help: "Scales: pow2 (the DPU's fix positions) or float (CPU / onnxruntime).")
    var scale: ScaleKind = .pow2

    @Flag(help: "One weight scale per output channel (--scale float only).")
    var perChannel = false

    @Flag(help: "Asymmetric uint8 activations with zero points (--scale float only).")
    var asymmetric = false

    @Option(help: "The DPU target whose rules shape the quantization (a name, alias or fingerprint).")
    var target: String?

    @Option(name: .customLong("calib-size"), help: "Use at most this many calibration samples.")
    var calibSize: Int?

    @Flag(name: .customLong("cle"), help: "Cross-layer equalization before calibration.")
    var crossLayerEqualization = false

    @Flag(name: .customLong("bias-correction"), help: "Correct biases for the quantization error's mean shift.")
    var biasCorrection = false

    @Flag(
        name: .customLong("fast-finetune"),
        help: "AdaQuant-style layer-wise finetuning of weights on the calibration data.")
    var fastFinetune = false

    @Option(
        name: [.customShort("o"), .customLong("output")],
        help: "The QDQ model to write (OUT.onnx; the plan goes to OUT.quant.json).")
    var output: String

    @Option(name: .customLong("report-svg"), help: "Write the per-layer SQNR bar chart to this SVG file.")
    var reportSVG: String?

    @Flag(help: "Print one JSON document (outputs written, the report) instead of text.")
    var json = false

    @Option(help: "Intra-op threads.")
    var threads: Int = 1

    func run() throws {
        let logger = Logger(label: "kiln.quantize")
        let config = try configuration()
        let imported = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: model))
        let calibration = try CalibrationSet.load(
            contentsOf: URL(fileURLWithPath: calib), for: imported.graph, limit: calibSize)
        logger.info("calibrating \(model) on \(calibration.samples.count) samples")

        let bar = ProgressBar(label: "quantize", unit: "samples")
        let quantized = try Quantizer.quantize(imported.graph, calibration: calibration, config: config) {
            done, total in
            bar?.update(done: done, total: total)
        }
        bar?.finish()

        let outputURL = URL(fileURLWithPath: output)
        let planURL = QDQExporter.planURL(forModelAt: outputURL)
        let onnx = try QDQExporter.export(quantized, opset: max(imported.opset, ONNXExporter.oldestOpset))
        let plan = try quantized.plan.jsonData()
        let chart = reportSVG.map { _ in Data(quantized.report.svgChart().utf8) }
        try FileIO.writeAtomically(onnx, to: outputURL)
        try FileIO.writeAtomically(plan, to: planURL)
        if let reportSVG, let chart { try FileIO.writeAtomically(chart, to: URL(fileURLWithPath: reportSVG)) }

        if json {
            print(
                try JSONOutput.encode(
                    QuantizeSummary(
                        model: model, output: output, plan: planURL.path, reportSVG: reportSVG, scale: config.scale,
                        method: config.method, target: config.target?.name,
                        calibrationSamples: quantized.plan.calibrationSamples,
                        report: quantized.report)))
        } else {
            print(
                "model \(model): \(config.scale == .pow2 ? "power-of-two" : "float") scales, \(config.method.rawValue) "
                    + "calibration on \(quantized.plan.calibrationSamples) samples"
                    + (config.target.map { ", target \($0.name)" } ?? ""))
            print(quantized.report.text)
            print("wrote \(output) and \(planURL.path)" + (reportSVG.map { " and \($0)" } ?? ""))
        }
    }

    /// The configuration the flags ask for, checked before any work.
    ///
    /// - Throws: `badArgument` for a bad thread count; `unknownTarget`;
    ///   `invalidQuantizationConfig` for options that contradict each other.
    func configuration() throws -> QuantizationConfig {
        guard threads >= 1 else { throw KilnError(.badArgument, "--threads must be at least 1, got \(threads)") }
        var config = QuantizationConfig()
        config.method = method
        config.percentile = percentile
        config.scale = scale
        config.perChannel = perChannel
        config.symmetricActivations = !asymmetric
        config.target = try target.map { try Catalog.architecture(matching: $0) }
        config.calibrationSize = calibSize
        config.crossLayerEqualization = crossLayerEqualization
        config.biasCorrection = biasCorrection
        config.fastFinetune = fastFinetune
        config.threads = threads
        try config.validate()
        return config
    }
}

/// The `kiln quantize --json` document.
struct QuantizeSummary: Encodable {
    let model: String
    let output: String
    let plan: String
    let reportSVG: String?
    let scale: ScaleKind
    let method: CalibrationMethod
    let target: String?
    let calibrationSamples: Int
    let report: QuantReport

    enum CodingKeys: String, CodingKey {
        case model, output, plan
        case reportSVG = "report_svg"
        case scale, method, target
        case calibrationSamples = "calibration_samples"
        case report
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(output, forKey: .output)
        try container.encode(plan, forKey: .plan)
        try container.encode(reportSVG, forKey: .reportSVG)  // null when absent
        try container.encode(scale, forKey: .scale)
        try container.encode(method, forKey: .method)
        try container.encode(target, forKey: .target)
        try container.encode(calibrationSamples, forKey: .calibrationSamples)
        try container.encode(report, forKey: .report)
    }
}

extension CalibrationMethod: ExpressibleByArgument {}
extension ScaleKind: ExpressibleByArgument {}
