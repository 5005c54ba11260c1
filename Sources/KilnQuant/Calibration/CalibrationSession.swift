import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnPasses

/// Quantization one sample at a time: each ``run(_:)`` executes the float model, returns
/// its outputs and observes the tensors the scheme quantizes; ``finish()`` turns the
/// observations into a ``QuantizedModel``.
///
/// This is what on-the-fly quantization needs (the first N inference inputs are the
/// calibration set, and each must still be answered), and what ``Quantizer/quantize(_:calibration:config:progress:)``
/// runs over a whole set. The two give the same model for the same samples.
///
/// ```swift
/// let session = try CalibrationSession(graph: model.graph, config: QuantizationConfig())
/// for feed in firstInputs { let outputs = try session.run(feed) /* answer the caller */ }
/// let quantized = try session.finish()
/// ```
///
/// A session is a reference type and not thread-safe: one caller at a time.
public final class CalibrationSession {
    /// The options.
    public let config: QuantizationConfig
    /// The float model as given.
    public let graph: Graph
    /// The graph calibration runs and the plan describes: canonical, equalized if asked.
    public let workingGraph: Graph
    /// Samples observed so far.
    public private(set) var sampleCount = 0

    private let canonical: Graph
    private let equalization: CLEReport?
    private let dpu: DPUStructure?
    private let cpu: FloatScheme.Structure?
    private let store: ObserverStore
    private var interpreter: Interpreter
    /// The samples kept for the report and the accuracy tools.
    private var kept: [[String: Tensor]] = []

    /// Prepares calibration of `graph` under `config`: validates the options, canonicalizes,
    /// equalizes (``QuantizationConfig/crossLayerEqualization``), partitions for the target
    /// and decides which tensors to observe.
    ///
    /// - Throws: `invalidQuantizationConfig`; errors of the passes.
    public init(graph: Graph, config: QuantizationConfig) throws {
        try config.validate()
        self.config = config
        self.graph = graph
        let (canonical, _) = try PassManager(InspectPipeline.preparation).run(
            graph, context: PassContext(threads: config.threads))
        self.canonical = canonical
        if config.crossLayerEqualization {
            (workingGraph, equalization) = try CrossLayerEqualization.apply(canonical)
        } else {
            (workingGraph, equalization) = (canonical, nil)
        }
        // What to quantize: with a target, the nodes the partitioner keeps on its DPU; without
        // one, every node the DPU can compute.
        let working = workingGraph
        let placements = try config.target.map { target in
            try partition(working, annotation: annotate(working, for: target)).placements
        }
        dpu = config.scale == .pow2 ? DPUStructure(workingGraph, placements: placements) : nil
        cpu = config.scale == .float ? FloatScheme.structure(workingGraph) : nil
        let values = Set(dpu?.activations ?? cpu?.activations ?? [])
        store = ObserverStore(names: values, keepsHistograms: TensorObserver.needsHistogram(config.method))
        interpreter = try Interpreter(graph: workingGraph, threads: config.threads)
        interpreter.valueHook = { [store] name, tensor in
            store.add(tensor, named: name)
            return nil
        }
    }

    /// How many samples the accuracy tools and the report keep: every sample when bias
    /// correction or fast finetune will need them, else the report's.
    private var keepLimit: Int {
        config.biasCorrection || config.fastFinetune
            ? (config.calibrationSize ?? Int.max) : Quantizer.reportSampleLimit
    }

    /// Runs the float model on one sample, observes it, and returns the model's outputs.
    ///
    /// - Throws: `badCalibrationData`, `nonFiniteCalibrationData` for a sample that does not
    ///   fit the model (nothing is observed then); the interpreter's errors.
    @discardableResult
    public func run(_ sample: [String: Tensor]) throws -> [String: Tensor] {
        try CalibrationSet.validate([sample], for: graph)
        let outputs = try interpreter.run(sample)
        sampleCount += 1
        if kept.count < keepLimit { kept.append(sample) }
        return outputs
    }

    /// Chooses positions or scales from the observations, applies the accuracy tools and
    /// measures the report over up to ``Quantizer/reportSampleLimit`` of the samples.
    ///
    /// - Parameter progress: called with the number of report samples measured.
    /// - Throws: `emptyCalibrationSet` before any ``run(_:)``; the tools' and the
    ///   simulation's errors.
    public func finish(progress: ((Int) -> Void)? = nil) throws -> QuantizedModel {
        guard sampleCount > 0 else {
            throw KilnError(
                .emptyCalibrationSet, "the calibration set holds no sample; give at least one (100–1000 are typical)")
        }
        let observers = store.observers
        let (dpu, cpu, config, samples) = (self.dpu, self.cpu, self.config, sampleCount)
        func plan(_ graph: Graph) -> (graph: Graph, plan: QuantizationPlan, warnings: [String]) {
            if let dpu {
                return DPUScheme.plan(graph, structure: dpu, observers: observers, config: config, samples: samples)
            }
            let structure = cpu ?? FloatScheme.structure(graph)
            return (
                graph,
                FloatScheme.plan(graph, structure: structure, observers: observers, config: config, samples: samples),
                []
            )
        }
        var result = try Quantizer.corrected(
            plan(workingGraph), samples: kept, graph: graph, config: config, replan: plan)
        for name in dpu?.unquantizable ?? [] {
            result.warnings.append(
                "node '\(name)': on the DPU by the partition, but without an integer pipeline here; simulated in float")
        }
        let isReshaped =
            config.crossLayerEqualization || config.biasCorrection || config.fastFinetune
            || !(dpu?.leakyRelus.isEmpty ?? true)
        let program = try SimulationProgram(graph: result.graph, plan: result.plan)
        var report = try QuantReport.measure(
            reference: isReshaped ? canonical : nil, graph: result.graph, plan: result.plan, program: program,
            samples: Array(kept.prefix(Quantizer.reportSampleLimit)), threads: config.threads,
            warnings: result.warnings, progress: progress)
        report.equalization = equalization
        return QuantizedModel(graph: result.graph, plan: result.plan, report: report)
    }
}

/// The observers the value hook writes into (the hook is `@Sendable`; the lock makes the
/// store safe should the interpreter ever call it from several threads).
final class ObserverStore: @unchecked Sendable {
    private let lock = NSLock()
    private var table: [String: TensorObserver]

    init(names: Set<String>, keepsHistograms: Bool) {
        table = Dictionary(uniqueKeysWithValues: names.map { ($0, TensorObserver(keepsHistogram: keepsHistograms)) })
    }

    func add(_ tensor: Tensor, named name: String) {
        lock.lock()
        defer { lock.unlock() }
        table[name]?.add(tensor)
    }

    var observers: [String: TensorObserver] {
        lock.lock()
        defer { lock.unlock() }
        return table
    }
}
