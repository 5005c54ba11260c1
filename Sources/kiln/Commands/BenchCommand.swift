import ArgumentParser
import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels
import KilnONNX
import KilnDPU
import KilnRuntime
import KilnTargets

/// `kiln bench`: latency and throughput of a model or an artifact, and for DPU subgraphs the
/// emulator's measured time next to the performance model's predicted device time.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure latency (p50/p90/p99/mean) and throughput; predict device FPS for DPU subgraphs.",
        discussion: """
            Runs a float ONNX model, or a .kiln artifact (its DPU subgraphs on the bit-accurate \
            emulator), under --executor: --warmup runs first, then timed runs for --seconds (at \
            least 10 runs). Without --inputs, inputs are random: float inputs uniform in [-1, 1], \
            integer and bool inputs zero, symbolic dimensions 1. For an artifact with DPU \
            subgraphs it also prints a vaitrace-like table, one row per subgraph: workload \
            (GOP), the emulator's time on this CPU and its GOP/s, and the performance model's \
            predicted device time, GOP/s and DDR traffic; and the predicted end-to-end device \
            latency and FPS (batch 1, one thread) on --board, or at the target's default clock. \
            --json prints the document of DESIGN.md, with "device" only when there are DPU \
            subgraphs and the per-subgraph rows under "subgraphs". --ops adds a per-operator \
            profile from traced runs after the timed ones (steady state: time per run, share, \
            calls), like onnxruntime's profiler summary, and --nodes one row per node; --json puts \
            it under "ops".
            """
    )

    @Argument(help: "The ONNX model or .kiln artifact.")
    var model: String

    @Option(name: .customLong("inputs"), help: "An .npz archive with one array per input name.")
    var inputArchive: String?

    @Option(help: "auto, graph (static shapes, memory plan) or vm.")
    var executor: ExecutorKind = .auto

    @Option(help: "Graph optimization: all (fold batch norms, fuse conv epilogues, the default) or none.")
    var optimization: GraphOptimization = .all

    @Option(help: "Intra-op threads.")
    var threads: Int = 1

    @Option(help: "Seconds of timed runs (at least 10 runs are made).")
    var seconds: Double = 3

    @Option(help: "Untimed warm-up runs.")
    var warmup: Int = 3

    @Option(help: "The board for the device prediction (ZCU102, ZCU104, KV260, …): its clock and cores.")
    var board: String?

    @Flag(help: "Print one JSON document on stdout.")
    var json = false

    @Flag(help: "Also profile by operator (traced runs after the timed ones).")
    var ops = false

    @Flag(help: "Like --ops, one row per node (name and shapes).")
    var nodes = false

    func run() throws {
        guard threads >= 1 else { throw KilnError(.badArgument, "--threads must be at least 1, got \(threads)") }
        guard seconds >= 0, seconds.isFinite else {
            throw KilnError(.badArgument, "--seconds must be a non-negative number, got \(seconds)")
        }
        guard warmup >= 0 else { throw KilnError(.badArgument, "--warmup must be at least 0, got \(warmup)") }
        NativeKernels.retainFreedMemory()
        let url = URL(fileURLWithPath: model)
        let given = try inputArchive.map { try NPZ.read(contentsOf: URL(fileURLWithPath: $0)) }
        // The graph executor plans memory for the shapes of the inputs it will see.
        let shapes = given?.mapValues(\.shape) ?? [:]
        let runner: any ModelExecutor
        var device: DevicePrediction?
        if ArtifactReader.hasMagic(url) {
            let artifact = try ArtifactReader.read(contentsOf: url)
            runner = try artifact.makeExecutor(executor, inputShapes: shapes, threads: threads, optimization: optimization)
            device = try DevicePrediction.of(artifact, board: board)
        } else {
            if board != nil { throw KilnError(.badArgument, "--board applies to artifacts with DPU subgraphs") }
            let graph = try ONNXImporter.importModel(contentsOf: url).graph
            runner = try executor.makeExecutor(for: graph, inputShapes: shapes, threads: threads, optimization: optimization)
        }
        let inputs = try given ?? BenchInputs.random(for: runner.graph)
        for _ in 0..<warmup { _ = try runner.run(inputs) }
        var latencies: [Double] = []
        let budget = UInt64(seconds * 1e9)
        let start = DispatchTime.now().uptimeNanoseconds
        while latencies.count < 10 || DispatchTime.now().uptimeNanoseconds - start < budget {
            let runStart = DispatchTime.now().uptimeNanoseconds
            _ = try runner.run(inputs)
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - runStart) / 1e6)
        }
        var report = BenchReport(model: model, executor: runner.kindName, threads: threads, latencies: latencies)
        if let vm = runner as? VirtualMachine, vm.specializedPlanCount > 0 {
            report.specializedPlans = vm.specializedPlanCount
        }
        if device != nil || ops || nodes {
            // Per-subgraph and per-operator times from traced runs (after the timed ones, so
            // tracing costs nothing there).
            let trace = TraceRecorder()
            let tracedRuns = min(max(latencies.count / 4, 3), 50)
            for _ in 0..<tracedRuns { _ = try runner.run(inputs, trace: trace) }
            if let prediction = device {
                report.device = prediction.prediction.device
                report.subgraphs = prediction.rows(trace: trace, runs: tracedRuns)
            }
            if ops || nodes { report.ops = OperatorProfile.rows(trace: trace, runs: tracedRuns, byNode: nodes) }
        }
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print(report.text(runs: latencies.count, board: device?.board))
        }
    }
}

/// The `--json` document of `kiln bench` (DESIGN.md; `device` and `subgraphs` only with DPU subgraphs).
struct BenchReport: Encodable {
    /// Latency statistics in milliseconds.
    struct Latency: Encodable {
        var p50: Double
        var p90: Double
        var p99: Double
        var mean: Double
    }

    var model: String
    var executor: String
    var threads: Int
    var latencyMs: Latency
    var throughputFps: Double
    var device: DeviceSummary?
    var subgraphs: [DevicePrediction.Row]?
    var ops: [OperatorProfile.Row]?
    /// Input shapes the VM ran on a graph-executor plan specialized for them (VM only).
    var specializedPlans: Int?

    enum CodingKeys: String, CodingKey {
        case model, executor, threads
        case latencyMs = "latency_ms"
        case throughputFps = "throughput_fps"
        case device, subgraphs, ops
        case specializedPlans = "specialized_plans"
    }

    /// Statistics of `latencies` (ms, at least one).
    init(model: String, executor: String, threads: Int, latencies: [Double]) {
        self.model = model
        self.executor = executor
        self.threads = threads
        let sorted = latencies.sorted()
        let mean = sorted.reduce(0, +) / Double(max(sorted.count, 1))
        latencyMs = Latency(
            p50: Self.percentile(sorted, 50), p90: Self.percentile(sorted, 90), p99: Self.percentile(sorted, 99), mean: mean)
        throughputFps = mean > 0 ? 1000 / mean : 0
    }

    /// Nearest-rank percentile of ascending `values`.
    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(values.count)).rounded(.up))
        return values[min(max(rank, 1), values.count) - 1]
    }

    /// The human-readable summary, then the per-subgraph table and the device prediction.
    func text(runs: Int, board: String?) -> String {
        let latency = latencyMs
        var lines = [
            "\(model): \(runs) runs, \(threads) thread\(threads == 1 ? "" : "s"), \(executor) executor"
                + (specializedPlans.map { ", \($0) input shape\($0 == 1 ? "" : "s") on a specialized graph plan" } ?? ""),
            "latency ms: p50 \(String(format: "%.3f", latency.p50))  p90 \(String(format: "%.3f", latency.p90))  "
                + "p99 \(String(format: "%.3f", latency.p99))  mean \(String(format: "%.3f", latency.mean))",
            "throughput: \(String(format: "%.1f", throughputFps)) inferences/s",
        ]
        if let subgraphs, !subgraphs.isEmpty {
            lines.append("")
            lines += DevicePrediction.table(subgraphs)
        }
        if let ops {
            lines.append("")
            lines += OperatorProfile.table(ops)
        }
        if let device {
            lines.append("")
            lines.append(
                "device \(device.target)\(board.map { " on \($0)" } ?? "") (\(device.cores) core\(device.cores == 1 ? "" : "s") @ "
                    + "\(device.clockMHz) MHz): predicted \(String(format: "%.3f", device.predictedLatencyMs)) ms, "
                    + "\(String(format: "%.1f", device.predictedFPS)) FPS (batch 1, 1 thread, end to end), "
                    + "\(String(format: "%.1f", device.predictedFPSMT)) FPS on every core")
        }
        return lines.joined(separator: "\n")
    }
}

/// The performance model's prediction for an artifact, joined with the emulator's measured
/// time per subgraph: vaitrace's summary, emulated and predicted side by side.
struct DevicePrediction {
    /// One DPU subgraph.
    struct Row: Encodable {
        var id: Int
        var name: String
        var gop: Double
        var emulatedMs: Double?
        var emulatedGOPS: Double?
        var predictedMs: Double
        var predictedGOPS: Double
        var loadBytes: Int
        var storeBytes: Int

        enum CodingKeys: String, CodingKey {
            case id, name, gop, emulatedMs = "emulated_ms", emulatedGOPS = "emulated_gops", predictedMs = "predicted_ms"
            case predictedGOPS = "predicted_gops", loadBytes = "load_bytes", storeBytes = "store_bytes"
        }
    }

    var prediction: PerformancePrediction
    var board: String?

    /// The prediction for `artifact`'s DPU subgraphs, or `nil` when it has none (or the
    /// target lacks figures the model needs — said on stderr).
    static func of(_ artifact: Artifact, board: String?) throws -> DevicePrediction? {
        guard artifact.hasDPUPrograms, let graph = try artifact.entryModule().graph else {
            if board != nil { throw KilnError(.badArgument, "--board: the artifact has no compiled DPU subgraph") }
            return nil
        }
        let architecture = try Catalog.architecture(fingerprint: artifact.header.fingerprint)
        let chosen = try architecture.board(option: board)
        guard let model = DPUCostModel(architecture: architecture, board: chosen) else {
            let missing = DPUCostModel.missingFigures(architecture: architecture, board: chosen)
            FileHandle.standardError.write(
                Data("note: no device prediction: \(architecture.name) lacks \(missing.joined(separator: ", "))\n".utf8))
            return nil
        }
        return DevicePrediction(prediction: PerformanceModel.predict(graph, with: model), board: chosen?.name)
    }

    /// The rows, with the mean emulated time of each subgraph over `runs` traced runs.
    func rows(trace: TraceRecorder, runs: Int) -> [Row] {
        var total: [String: Double] = [:]
        for slice in trace.slices where slice.op.hasPrefix("dpu_subgraph") {
            total[slice.name, default: 0] += Double(slice.endNanoseconds - slice.startNanoseconds) / 1e6
        }
        return prediction.subgraphs.map { subgraph in
            let emulated = total[subgraph.name].map { $0 / Double(max(runs, 1)) }
            return Row(
                id: subgraph.id, name: subgraph.name, gop: subgraph.gop, emulatedMs: emulated,
                emulatedGOPS: emulated.map { $0 > 0 ? subgraph.gop / ($0 / 1000) : 0 }, predictedMs: subgraph.latencyMs,
                predictedGOPS: subgraph.gopsPerSecond, loadBytes: subgraph.weightLoadBytes + subgraph.featureLoadBytes,
                storeBytes: subgraph.storeBytes)
        }
    }

    /// The rows as an aligned text table.
    static func table(_ rows: [Row]) -> [String] {
        let header = ["SUBGRAPH", "GOP", "EMULATED ms", "EMU GOP/s", "DEVICE ms", "DEVICE GOP/s", "LOAD MB", "STORE MB"]
        let cells = rows.map { row in
            [
                "\(row.id) \(row.name)", String(format: "%.4f", row.gop),
                row.emulatedMs.map { String(format: "%.3f", $0) } ?? "-",
                row.emulatedGOPS.map { String(format: "%.2f", $0) } ?? "-", String(format: "%.3f", row.predictedMs),
                String(format: "%.1f", row.predictedGOPS), String(format: "%.3f", Double(row.loadBytes) / 1e6),
                String(format: "%.3f", Double(row.storeBytes) / 1e6),
            ]
        }
        let widths = header.indices.map { column in ([header] + cells).map { $0[column].count }.max() ?? 0 }
        return ([header] + cells).map { line in
            line.enumerated().map { column, cell in
                column == 0
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }
    }
}

/// Random inputs of a graph's declared shapes.
enum BenchInputs {
    /// One tensor per non-initializer input: float uniform in [-1, 1], other types zero,
    /// symbolic or unknown dimensions 1.
    ///
    /// - Throws: `badArgument` when an input's dtype or rank is unknown.
    static func random(for graph: Graph) throws -> [String: Tensor] {
        var generator = SystemRandomNumberGenerator()
        var inputs: [String: Tensor] = [:]
        for id in graph.inputs where graph.initializers[id] == nil {
            let value = graph[id]
            guard let dtype = value.type.dtype, let dims = value.type.shape else {
                throw KilnError(.badArgument, "input '\(value.name)' has no declared dtype and shape; pass --inputs")
            }
            let shape = dims.map { $0.value ?? 1 }
            let count = shape.reduce(1, *)
            switch dtype {
            case .float32:
                inputs[value.name] = Tensor(shape: shape, scalars: (0..<count).map { _ in Float.random(in: -1...1, using: &generator) })
            case .float64:
                inputs[value.name] = Tensor(shape: shape, scalars: (0..<count).map { _ in Double.random(in: -1...1, using: &generator) })
            default:
                inputs[value.name] = Tensor(zeros: shape, dtype: dtype)
            }
        }
        return inputs
    }
}
