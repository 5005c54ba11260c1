import KilnCore
import KilnIR
import KilnPasses

/// A quantized model: the float graph as quantized, the plan, and the accuracy report.
public struct QuantizedModel: Sendable {
    /// The float graph as quantized: canonicalized, with the DPU's LeakyReLU slope, after
    /// cross-layer equalization, bias correction and fast finetune when asked for.
    public var graph: Graph
    /// Every quantized tensor's fix position or scale (what `OUT.quant.json` holds).
    public var plan: QuantizationPlan
    /// Per-layer and whole-model SQNR of the fake-quant simulation.
    public var report: QuantReport

    /// Creates a model.
    public init(graph: Graph, plan: QuantizationPlan, report: QuantReport) {
        self.graph = graph
        self.plan = plan
        self.report = report
    }
}

/// Post-training quantization: canonicalize, calibrate, choose fix positions or scales,
/// measure.
public enum Quantizer {
    /// Samples the report measures at most (the first ones of the calibration set).
    public static let reportSampleLimit = 8

    /// Quantizes a float model.
    ///
    /// The steps: validate the options and the calibration set; canonicalize
    /// (`InspectPipeline.preparation`: shape inference and ``Pass/canonicalization``); with
    /// a target, annotate and partition for it; decide what to quantize (the DPU scheme for
    /// power-of-two scales — the nodes of DPU regions, or without a target every node the
    /// DPU can compute — the CPU scheme for float scales); run the float model over the calibration
    /// samples and observe those tensors; choose positions or scales with `config.method`
    /// and, for the DPU, align them and keep every shift in range; measure the per-layer and
    /// model SQNR of the fake-quant simulation over up to ``reportSampleLimit`` samples.
    ///
    /// ```swift
    /// let model = try ONNXImporter.importModel(contentsOf: url)
    /// let set = try CalibrationSet.load(contentsOf: calibURL, for: model.graph, limit: 200)
    /// var config = QuantizationConfig()
    /// config.method = .mse
    /// let quantized = try Quantizer.quantize(model.graph, calibration: set, config: config) { done, total in
    ///     print("\(done)/\(total)")
    /// }
    /// print(quantized.report.text)
    /// ```
    ///
    /// - Parameters:
    ///   - graph: the float model.
    ///   - calibration: samples for `graph`'s inputs.
    ///   - config: the scheme, method and options.
    ///   - progress: called with (samples done, samples in all) as calibration and then the
    ///     report's measurement run each sample.
    /// - Returns: the quantized model.
    /// - Throws: `invalidQuantizationConfig`; `badCalibrationData`, `emptyCalibrationSet`,
    ///   `nonFiniteCalibrationData`; errors of the passes and the interpreter.
    public static func quantize(
        _ graph: Graph, calibration: CalibrationSet, config: QuantizationConfig, progress: ((Int, Int) -> Void)? = nil
    ) throws -> QuantizedModel {
        try config.validate()
        try CalibrationSet.validate(calibration.samples, for: graph)
        let samples = calibration.prefix(config.calibrationSize).samples
        let total = samples.count + min(samples.count, reportSampleLimit)
        let session = try CalibrationSession(graph: graph, config: config)
        for (index, sample) in samples.enumerated() {
            try session.run(sample)
            progress?(index + 1, total)
        }
        return try session.finish { done in progress?(samples.count + done, total) }
    }

    // MARK: Accuracy tools (Tools/: CrossLayerEqualization, BiasCorrection, FastFinetune)

    /// The quantization after bias correction and fast finetune when `config` asks for them.
    /// Each tool returns a graph with new weights or biases; `replan` then derives the plan
    /// again from the same calibration, so weight and bias positions follow the new values
    /// (fast finetune's weights lie on its plan's grid and keep its largest levels, so the
    /// weight quantization derived again is the one they were tuned for, or a finer one).
    static func corrected(
        _ result: (graph: Graph, plan: QuantizationPlan, warnings: [String]), samples: [[String: Tensor]],
        graph: Graph, config: QuantizationConfig,
        replan: (Graph) -> (graph: Graph, plan: QuantizationPlan, warnings: [String])
    ) throws -> (graph: Graph, plan: QuantizationPlan, warnings: [String]) {
        guard config.biasCorrection || config.fastFinetune else { return result }
        let calibration = try CalibrationSet(samples: samples, for: graph)
        // Bias correction changes the float function: fast finetune's target stays the model before it.
        let reference = result.graph
        var result = result
        if config.biasCorrection {
            let corrected = try BiasCorrection.apply(
                result.graph, plan: result.plan, calibration: calibration, threads: config.threads)
            result = replan(corrected)
        }
        if config.fastFinetune {
            let finetuned = try FastFinetune.apply(
                result.graph, plan: result.plan, calibration: calibration, threads: config.threads,
                reference: reference)
            result = replan(finetuned)
        }
        return result
    }
}
