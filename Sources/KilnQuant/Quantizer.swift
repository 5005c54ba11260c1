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
    ///   `nonFiniteCalibrationData`; `quantizationToolUnavailable` when CLE, bias correction
    ///   or fast finetune is asked for and not available; errors of the passes and the
    ///   interpreter.
    public static func quantize(
        _ graph: Graph, calibration: CalibrationSet, config: QuantizationConfig, progress: ((Int, Int) -> Void)? = nil
    ) throws -> QuantizedModel {
        try config.validate()
        try CalibrationSet.validate(calibration.samples, for: graph)
        let samples = calibration.prefix(config.calibrationSize).samples
        let reportSamples = Array(samples.prefix(reportSampleLimit))
        let total = samples.count + reportSamples.count
        let (canonical, _) = try PassManager(InspectPipeline.preparation).run(
            graph, context: PassContext(threads: config.threads))
        let working = try equalized(canonical, config)
        var isReshaped = config.crossLayerEqualization

        // What to quantize: with a target, the nodes the partitioner keeps on its DPU; without
        // one, every node the DPU can compute.
        let placements = try config.target.map { target in
            try partition(working, annotation: annotate(working, for: target)).placements
        }
        let dpu = config.scale == .pow2 ? DPUStructure(working, placements: placements) : nil
        let cpu = config.scale == .float ? FloatScheme.structure(working) : nil
        let values = Set(dpu?.activations ?? cpu?.activations ?? [])
        let observers = try Calibrator.observe(
            working, values: values, samples: samples, keepsHistograms: TensorObserver.needsHistogram(config.method),
            threads: config.threads
        ) { done in progress?(done, total) }

        func plan(_ graph: Graph) -> (graph: Graph, plan: QuantizationPlan, warnings: [String]) {
            if let dpu {
                return DPUScheme.plan(
                    graph, structure: dpu, observers: observers, config: config, samples: samples.count)
            }
            let structure = cpu ?? FloatScheme.structure(graph)
            return (
                graph,
                FloatScheme.plan(
                    graph, structure: structure, observers: observers, config: config, samples: samples.count), []
            )
        }
        var result = try corrected(plan(working), samples: samples, graph: graph, config: config, replan: plan)
        for name in dpu?.unquantizable ?? [] {
            result.warnings.append(
                "node '\(name)': on the DPU by the partition, but without an integer pipeline here; simulated in float")
        }
        isReshaped = isReshaped || config.biasCorrection || config.fastFinetune || !(dpu?.leakyRelus.isEmpty ?? true)

        let program = try SimulationProgram(graph: result.graph, plan: result.plan)
        let report = try QuantReport.measure(
            reference: isReshaped ? canonical : nil, graph: result.graph, plan: result.plan, program: program,
            samples: reportSamples, threads: config.threads, warnings: result.warnings
        ) { done in progress?(samples.count + done, total) }
        return QuantizedModel(graph: result.graph, plan: result.plan, report: report)
    }

    // MARK: Accuracy tools — call sites for the tools engineer's CrossLayerEqualization,
    // BiasCorrection and FastFinetune. Until they land, asking for one is a coded error.

    /// The graph after cross-layer equalization when `config` asks for it (before calibration).
    private static func equalized(_ graph: Graph, _ config: QuantizationConfig) throws -> Graph {
        guard config.crossLayerEqualization else { return graph }
        // Connect: `return try CrossLayerEqualization.apply(graph).0`
        throw KilnError(
            .quantizationToolUnavailable, "cross-layer equalization (--cle) is not available in this build yet")
    }

    /// The quantization after bias correction and fast finetune when `config` asks for them.
    /// Each tool returns a graph with new weights or biases; `replan` then derives the plan
    /// again from the same calibration, so weight and bias positions follow the new values.
    private static func corrected(
        _ result: (graph: Graph, plan: QuantizationPlan, warnings: [String]), samples: [[String: Tensor]],
        graph: Graph, config: QuantizationConfig,
        replan: (Graph) -> (graph: Graph, plan: QuantizationPlan, warnings: [String])
    ) throws -> (graph: Graph, plan: QuantizationPlan, warnings: [String]) {
        if config.biasCorrection {
            // Connect: `result = replan(try BiasCorrection.apply(result.graph, plan: result.plan,
            //     calibration: CalibrationSet(samples: samples, for: graph), threads: config.threads))`
            throw KilnError(
                .quantizationToolUnavailable, "bias correction (--bias-correction) is not available in this build yet")
        }
        if config.fastFinetune {
            // Connect: `result = replan(try FastFinetune.apply(result.graph, plan: result.plan,
            //     calibration: CalibrationSet(samples: samples, for: graph), threads: config.threads))`
            throw KilnError(
                .quantizationToolUnavailable, "fast finetune (--fast-finetune) is not available in this build yet")
        }
        return result
    }
}
