import ArgumentParser
import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnPasses
import KilnQuant
import KilnRuntime
import KilnTargets

/// `kiln deploy`: the whole flow on one model, each stage printed as it finishes.
struct DeployCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Inspect, quantize, compile and run a model for a DPU target; compare int8 with float and predict board FPS.",
        discussion: """
            The stages of `kiln inspect`, `kiln quantize`, `kiln compile` and `kiln run`, in one \
            command: partition the model for the target; quantize it with the DPU scheme over \
            the calibration samples (--calib); compile the DPU subgraphs and write the artifact \
            (-o); load the artifact back and run every evaluation sample (--eval) through it \
            (graph executor or VM, DPU subgraphs on the bit-accurate emulator) and through the \
            float model; report top-1 accuracy of both when the evaluation archive holds a \
            `label` array (else their top-1 agreement), the output SQNR, the emulated latency \
            on this CPU and the performance model's predicted latency and FPS on the board \
            (--board, or the board a target alias names).
            """
    )

    @Argument(help: "The float ONNX model.")
    var model: String

    @Option(help: "The DPU target: a name, an alias (DPUCZDX8G-zcu102) or a fingerprint.")
    var target: String

    @Option(help: "Calibration samples: an .npz (one array per input, first axis = samples) or a directory.")
    var calib: String

    @Option(help: "Evaluation samples: an .npz like --calib, optionally with an integer 'label' array.")
    var eval: String

    @Option(help: "Calibration method: minmax, percentile, entropy or mse.")
    var method: CalibrationMethod = .minmax

    @Option(name: .customLong("calib-size"), help: "Use at most this many calibration samples.")
    var calibSize: Int?

    @Option(help: "The board for the performance model (ZCU102, ZCU104, KV260, …).")
    var board: String?

    @Option(name: .shortAndLong, help: "Write the artifact here.")
    var output: String?

    @Option(help: "Executor for the artifact: auto, graph or vm.")
    var executor: ExecutorKind = .auto

    @Option(help: "Intra-op threads.")
    var threads = 1

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    func run() throws {
        guard threads >= 1 else { throw KilnError(.badArgument, "--threads must be at least 1, got \(threads)") }
        let architecture = try Catalog.architecture(matching: target)
        let modelURL = URL(fileURLWithPath: model)
        let graph = try ONNXImporter.importModel(contentsOf: modelURL).graph
        let evaluation = try EvaluationSet.load(contentsOf: URL(fileURLWithPath: eval), for: graph)
        let calibration = try CalibrationSet.load(contentsOf: URL(fileURLWithPath: calib), for: graph, limit: calibSize)
        let costModel = try Self.costModel(architecture, board: board, alias: target)
        var document = DeployDocument(model: model, target: architecture.name)
        let say = { (line: String) in if !json { print(line) } }
        say("kiln deploy \(model) → \(architecture.name)\(costModel?.board.map { " (\($0.name))" } ?? "")")

        // 1. Inspect.
        let inspection = try InspectPipeline.inspect(graph, target: architecture)
        let summary = inspection.report.summary
        document.inspect = summary
        say(
            "1 inspect   " + String(
                format: "%d of %d nodes on the DPU (%.1f%% of the work), %d DPU subgraph%@, %d CPU↔DPU crossing%@",
                summary.dpuNodes, summary.nodes, 100 * summary.dpuOpsShare, summary.subgraphs,
                summary.subgraphs == 1 ? "" : "s", summary.transitions, summary.transitions == 1 ? "" : "s"))

        // 2. Quantize.
        var config = QuantizationConfig()
        config.target = architecture
        config.method = method
        config.threads = threads
        let start = Date()
        let quantized = try Quantizer.quantize(graph, calibration: calibration, config: config)
        let worst = quantized.report.layers.filter { $0.sqnrDB != nil }.min { ($0.sqnrDB ?? 0) < ($1.sqnrDB ?? 0) }
        document.quantize = .init(
            method: method.rawValue, samples: quantized.plan.calibrationSamples,
            modelSQNR: quantized.report.modelSQNR, worstLayer: worst?.name, worstLayerSQNR: worst?.sqnrDB,
            seconds: Date().timeIntervalSince(start))
        say(
            "2 quantize  DPU scheme, \(method.rawValue), \(quantized.plan.calibrationSamples) samples: model SQNR "
                + "\(QuantReport.format(quantized.report.modelSQNR)) dB"
                + (worst.map { "; lowest layer \($0.name) \(QuantReport.format($0.sqnrDB)) dB" } ?? ""))
        for warning in quantized.report.warnings { say("            warning: \(warning)") }

        // 3. Compile, write, load back.
        let compiled = try ModelCompiler.compile(
            quantized, modelSHA256: InferenceSession.sha256(of: modelURL), architecture: architecture)
        let bytes = try ArtifactWriter.encode(compiled.tree, header: compiled.header)
        if let output { try FileIO.writeAtomically(bytes, to: URL(fileURLWithPath: output)) }
        let artifact = try ArtifactReader.decode(bytes, expectedFingerprint: architecture.fingerprint)
        let onDPU = compiled.subgraphs.filter { $0.device == .dpu }
        document.compile = .init(
            subgraphs: compiled.subgraphs.count, dpuSubgraphs: onDPU.count,
            instructions: onDPU.compactMap(\.instructions).reduce(0, +), artifactBytes: bytes.count, artifact: output)
        say(
            "3 compile   \(onDPU.count) of \(compiled.subgraphs.count) subgraph\(compiled.subgraphs.count == 1 ? "" : "s") "
                + "compiled for the DPU, \(document.compile?.instructions ?? 0) instructions; artifact "
                + Self.size(bytes.count) + (output.map { " → \($0)" } ?? " (not written: no -o)"))
        for subgraph in compiled.subgraphs where subgraph.device != .dpu {
            say("            subgraph \(subgraph.id) runs in float: \(subgraph.device)")
        }

        // 4. Run the artifact and the float model on the evaluation samples.
        var options = SessionOptions()
        options.executor = executor
        options.threads = threads
        let session = try InferenceSession(artifact: artifact, target: architecture, options: options)
        let interpreter = try Interpreter(graph: graph, threads: threads)
        var comparison = OutputComparison()
        for (index, sample) in evaluation.samples.enumerated() {
            let float = try interpreter.run(sample)
            let int8 = try session.run(sample)
            comparison.add(float: float, int8: int8, outputs: graph.outputs.map { graph[$0].name },
                           label: evaluation.labels?[index])
        }
        let perSample = session.timings.accelerated / Double(max(session.timings.acceleratedRuns, 1)) * 1000
        document.run = comparison.document(
            samples: evaluation.samples.count, executor: session.executorName ?? executor.rawValue,
            latencyMs: perSample)
        say(
            "4 run       \(evaluation.samples.count) samples through the artifact (\(session.executorName ?? "?") executor, "
                + "DPU emulator): " + String(format: "%.3f ms/sample on this CPU", perSample))
        say("            " + comparison.text)

        // 5. The board.
        if let costModel {
            let prediction = PerformanceModel.predict(inspection.partition.graph, with: costModel.model)
            document.device = prediction.device
            let device = prediction.device
            say(
                "5 device    " + String(
                    format: "%@ × %d core%@ @ %d MHz: predicted %.3f ms, %.1f FPS (batch 1, 1 thread), %.1f FPS on every core",
                    costModel.board?.name ?? architecture.name, device.cores, device.cores == 1 ? "" : "s",
                    device.clockMHz, device.predictedLatencyMs, device.predictedFPS, device.predictedFPSMT))
        } else {
            say("5 device    no prediction: the performance model lacks figures of \(architecture.name) no source publishes")
        }
        if json { print(try JSONOutput.encode(document)) }
    }

    /// The performance model for the board `--board` names, or the target alias names.
    private static func costModel(_ architecture: DPUArchitecture, board: String?, alias: String) throws
        -> (model: DPUCostModel, board: BoardConfiguration?)?
    {
        var chosen = try architecture.board(option: board) ?? architecture.board(forAlias: alias)
        if chosen == nil { chosen = architecture.boards.first }
        return DPUCostModel(architecture: architecture, board: chosen).map { ($0, chosen) }
    }

    private static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20
            ? String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) : String(format: "%.1f KiB", Double(bytes) / 1024)
    }
}
