import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnPasses
import KilnQuant

/// Evaluation samples for `kiln deploy`: the samples of an `.npz` laid out as calibration
/// archives are (see `CalibrationSet.load`), plus an optional integer `label` (or `labels`)
/// array with one class index per sample.
struct EvaluationSet {
    var samples: [[String: Tensor]]
    var labels: [Int]?

    static func load(contentsOf url: URL, for graph: Graph) throws -> EvaluationSet {
        var arrays = try NPZ.read(contentsOf: url)
        let inputs = Set(graph.inputs.map { graph[$0].name })
        var labels: [Int]?
        for key in ["label", "labels"] where !inputs.contains(key) {
            guard let array = arrays.removeValue(forKey: key) else { continue }
            guard let classes = array.integerScalars() else {
                throw KilnError(
                    .badArgument, "\(url.lastPathComponent): '\(key)' must hold integer class indices, not \(array.dtype)")
            }
            labels = classes
        }
        let samples = try CalibrationSet(
            samples: CalibrationSet.splitArchive(arrays, graph: graph, source: url.lastPathComponent, limit: nil),
            for: graph
        ).samples
        if let labels, labels.count != samples.count {
            throw KilnError(
                .badArgument, "\(url.lastPathComponent): \(labels.count) labels for \(samples.count) samples")
        }
        return EvaluationSet(samples: samples, labels: labels)
    }
}

/// Float vs int8 outputs over the evaluation samples: top-1 of the first output (accuracy
/// against labels, or agreement between the two) and the SQNR of every float output.
struct OutputComparison {
    private var signal = 0.0
    private var noise = 0.0
    private var samples = 0
    private var agree = 0
    private var floatCorrect = 0
    private var int8Correct = 0
    private var labelled = 0

    mutating func add(float: [String: Tensor], int8: [String: Tensor], outputs: [String], label: Int?) {
        samples += 1
        for name in outputs {
            guard let reference = float[name], reference.dtype.isFloatingPoint, let actual = int8[name] else { continue }
            let (y, q) = (reference.doubleScalars(), actual.doubleScalars())
            for index in 0..<min(y.count, q.count) {
                signal += y[index] * y[index]
                noise += (y[index] - q[index]) * (y[index] - q[index])
            }
        }
        guard let first = outputs.first, let reference = float[first], let actual = int8[first] else { return }
        let (a, b) = (Self.argmax(reference), Self.argmax(actual))
        if a == b { agree += 1 }
        if let label {
            labelled += 1
            if a == label { floatCorrect += 1 }
            if b == label { int8Correct += 1 }
        }
    }

    private static func argmax(_ tensor: Tensor) -> Int {
        let values = tensor.doubleScalars()
        return values.indices.max { values[$0] < values[$1] } ?? -1
    }

    var sqnr: Double? { noise > 0 ? 10 * log10(signal / noise) : (signal > 0 ? .infinity : nil) }

    var text: String {
        let share = { (count: Int, of: Int) in 100 * Double(count) / Double(max(of, 1)) }
        var parts: [String] = []
        if labelled > 0 {
            let (float, int8) = (share(floatCorrect, labelled), share(int8Correct, labelled))
            parts.append(String(format: "top-1 float %.2f%%, int8 %.2f%% (%+.2f points)", float, int8, int8 - float))
        }
        parts.append(String(format: "int8 agrees with float on %.2f%% of top-1", share(agree, samples)))
        parts.append("output SQNR \(QuantReport.format(sqnr)) dB")
        return parts.joined(separator: "; ")
    }

    func document(samples: Int, executor: String, latencyMs: Double) -> DeployDocument.Run {
        let share = { (count: Int, of: Int) in of > 0 ? Double(count) / Double(of) : nil }
        return DeployDocument.Run(
            samples: samples, executor: executor, emulatedLatencyMs: latencyMs,
            floatTop1: share(floatCorrect, labelled), int8Top1: share(int8Correct, labelled),
            top1Agreement: share(agree, self.samples), outputSQNR: sqnr.flatMap { $0.isFinite ? $0 : nil })
    }
}

/// `kiln deploy --json`.
struct DeployDocument: Encodable {
    struct Quantize: Encodable {
        var method: String
        var samples: Int
        var modelSQNR: Double?
        var worstLayer: String?
        var worstLayerSQNR: Double?
        var seconds: Double

        enum CodingKeys: String, CodingKey {
            case method, samples, modelSQNR = "model_sqnr_db", worstLayer = "lowest_layer"
            case worstLayerSQNR = "lowest_layer_sqnr_db", seconds
        }
    }

    struct Compile: Encodable {
        var subgraphs: Int
        var dpuSubgraphs: Int
        var instructions: Int
        var artifactBytes: Int
        var artifact: String?

        enum CodingKeys: String, CodingKey {
            case subgraphs, dpuSubgraphs = "dpu_subgraphs", instructions, artifactBytes = "artifact_bytes", artifact
        }
    }

    struct Run: Encodable {
        var samples: Int
        var executor: String
        var emulatedLatencyMs: Double
        var floatTop1: Double?
        var int8Top1: Double?
        var top1Agreement: Double?
        var outputSQNR: Double?

        enum CodingKeys: String, CodingKey {
            case samples, executor, emulatedLatencyMs = "latency_ms", floatTop1 = "float_top1", int8Top1 = "int8_top1"
            case top1Agreement = "top1_agreement", outputSQNR = "output_sqnr_db"
        }
    }

    var model: String
    var target: String
    var inspect: InspectorReport.Summary?
    var quantize: Quantize?
    var compile: Compile?
    var run: Run?
    var device: DeviceSummary?
}
