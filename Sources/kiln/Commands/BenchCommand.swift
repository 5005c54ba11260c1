import ArgumentParser
import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels
import KilnONNX
import KilnRuntime

/// `kiln bench`: latency and throughput of a float ONNX model.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a model's latency (p50/p90/p99/mean) and throughput.",
        discussion: """
            Runs the model with the interpreter, or with --executor (graph, vm, auto; the graph \
            executor plans for the shapes of the inputs): --warmup runs first, then timed runs for \
            --seconds (at least 10 runs). Without --inputs, inputs are random: float inputs \
            uniform in [-1, 1], integer and bool inputs zero, symbolic dimensions 1.
            """
    )

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(name: .customLong("inputs"), help: "An .npz archive with one array per input name.")
    var inputArchive: String?

    @Option(help: "Intra-op threads.")
    var threads: Int = 1

    @Option(help: "Executor: graph, vm or auto (default: the interpreter).")
    var executor: ExecutorKind?

    @Option(help: "Seconds of timed runs (at least 10 runs are made).")
    var seconds: Double = 3

    @Option(help: "Untimed warm-up runs.")
    var warmup: Int = 3

    @Flag(help: "Print one JSON document on stdout.")
    var json = false

    func run() throws {
        guard threads >= 1 else { throw KilnError(.badArgument, "--threads must be at least 1, got \(threads)") }
        guard seconds >= 0, seconds.isFinite else { throw KilnError(.badArgument, "--seconds must be a non-negative number, got \(seconds)") }
        guard warmup >= 0 else { throw KilnError(.badArgument, "--warmup must be at least 0, got \(warmup)") }
        NativeKernels.retainFreedMemory()
        let imported = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: model))
        let inputs = try inputArchive.map { try NPZ.read(contentsOf: URL(fileURLWithPath: $0)) }
            ?? BenchInputs.random(for: imported.graph)
        let (run, executorName) = try Self.runner(graph: imported.graph, inputs: inputs, executor: executor, threads: threads)
        for _ in 0..<warmup { _ = try run(inputs) }
        var latencies: [Double] = []
        let budget = UInt64(seconds * 1e9)
        let start = DispatchTime.now().uptimeNanoseconds
        while latencies.count < 10 || DispatchTime.now().uptimeNanoseconds - start < budget {
            let runStart = DispatchTime.now().uptimeNanoseconds
            _ = try run(inputs)
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - runStart) / 1e6)
        }
        var report = BenchReport(model: model, threads: threads, latencies: latencies)
        report.executor = executorName
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print(report.text(runs: latencies.count))
        }
    }
}

extension BenchCommand {
    /// The run function and executor name for `executor` (`nil`: the interpreter).
    static func runner(
        graph: Graph, inputs: [String: Tensor], executor: ExecutorKind?, threads: Int
    ) throws -> (([String: Tensor]) throws -> [String: Tensor], String) {
        guard let executor else {
            let interpreter = try Interpreter(graph: graph, threads: threads)
            return ({ try interpreter.run($0) }, "interpreter")
        }
        let shapes = executor == .graph ? inputs.mapValues(\.shape) : [:]
        let compiled = try executor.makeExecutor(for: graph, inputShapes: shapes, runner: NoSubgraphRunner(), threads: threads)
        return ({ try compiled.run($0, trace: nil) }, compiled.kindName)
    }
}

/// The `--json` document of `kiln bench` (DESIGN.md; no `device` without DPU subgraphs).
struct BenchReport: Encodable {
    /// Latency statistics in milliseconds.
    struct Latency: Encodable {
        var p50: Double
        var p90: Double
        var p99: Double
        var mean: Double
    }

    var model: String
    var executor = "interpreter"
    var threads: Int
    var latencyMs: Latency
    var throughputFps: Double

    enum CodingKeys: String, CodingKey {
        case model, executor, threads
        case latencyMs = "latency_ms"
        case throughputFps = "throughput_fps"
    }

    /// Statistics of `latencies` (ms, at least one).
    init(model: String, threads: Int, latencies: [Double]) {
        self.model = model
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

    /// The human-readable summary.
    func text(runs: Int) -> String {
        let latency = latencyMs
        return """
            \(model): \(runs) runs, \(threads) thread\(threads == 1 ? "" : "s"), \(executor)
            latency ms: p50 \(String(format: "%.3f", latency.p50))  p90 \(String(format: "%.3f", latency.p90))  \
            p99 \(String(format: "%.3f", latency.p99))  mean \(String(format: "%.3f", latency.mean))
            throughput: \(String(format: "%.1f", throughputFps)) inferences/s
            """
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
