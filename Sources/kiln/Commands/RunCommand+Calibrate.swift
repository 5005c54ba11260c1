import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnQuant
import KilnRuntime
import KilnTargets
import Logging

extension RunCommand {
    /// `kiln run … --calibrate [--export OUT.kiln]`: every sample of `--inputs` through one
    /// ``InferenceSession`` with N = the sample count (or `KILN_QUANT_SIZE` if smaller).
    func runCalibrating() throws {
        guard let inputArchive, inputFiles.isEmpty else {
            throw KilnError(
                .badArgument, "--calibrate takes its samples from --inputs many.npz (first axis = samples), not -i")
        }
        if profile != nil || compare != nil {
            throw KilnError(.badArgument, "--calibrate does not combine with --profile or --compare")
        }
        let logger = Logger(label: "kiln.run")
        let url = URL(fileURLWithPath: model)
        let architecture = try target.map { try Catalog.architecture(matching: $0) }
        let isArtifact = ArtifactReader.hasMagic(url) || url.pathExtension == "kiln"
        if !isArtifact, architecture == nil {
            throw KilnError(.badArgument, "--calibrate on an ONNX model needs --target (the DPU to compile it for)")
        }
        var options = SessionOptions()
        options.executor = executor ?? .auto
        options.threads = threads
        options.allowRecompile = architecture != nil
        // The samples, split along their first axis against the model's inputs.
        let graph: Graph
        if isArtifact {
            let artifact = try ArtifactReader.read(
                contentsOf: url, expectedFingerprint: architecture?.fingerprint, allowRecompile: true)
            graph = try ModelCompiler.floatGraph(of: artifact)
        } else {
            graph = try ONNXImporter.importModel(contentsOf: url).graph
        }
        let samples = try CalibrationSet.load(contentsOf: URL(fileURLWithPath: inputArchive), for: graph, limit: nil)
            .samples
        options.quantSize = min(
            samples.count, SessionOptions.quantSize(in: ProcessInfo.processInfo.environment) ?? samples.count)
        let session = try InferenceSession(contentsOf: url, target: architecture, options: options)
        session.onEvent = { event in
            if event.level == .warning { logger.warning("\(event.message)") } else { logger.info("\(event.message)") }
        }
        for event in session.events where event.level == .warning { logger.warning("\(event.message)") }
        if !json { print("session: \(samples.count) samples, N = \(options.quantSize), phase \(session.phase)") }
        var last: [String: Tensor] = [:]
        var switchedAt: Int?
        for (index, sample) in samples.enumerated() {
            let before = session.phase
            last = try session.run(sample)
            if before != session.phase, session.phase == .accelerated {
                switchedAt = index + 1
                let line =
                    "after run \(index + 1): \(before) -> \(session.phase) (\(session.executorName ?? "?") executor, DPU subgraphs on the emulator)"
                if !json { print(line) }
            }
        }
        if let export {
            try session.export(to: URL(fileURLWithPath: export))
        }
        if let output {
            try NPZ.write(last, to: URL(fileURLWithPath: output))
        }
        let summary = CalibrateSummary(
            model: model, samples: samples.count, quantSize: options.quantSize, phase: session.phase.description,
            switchedAfterRun: switchedAt, executor: session.executorName, timings: session.timings,
            events: session.events.map(\.description), export: export, output: output)
        if json {
            print(try JSONOutput.encode(summary))
            return
        }
        print("phase: \(session.phase)")
        print("timings: \(session.timings.summary)")
        for event in session.events where event.level == .warning { print("warning: \(event.message)") }
        if let export { print("exported \(export) (\(session.artifact.header.quantization.summary))") }
        if let output { print("wrote the last sample's \(last.count) output(s) to \(output)") }
    }
}

/// The `kiln run --calibrate --json` document.
struct CalibrateSummary: Encodable {
    let model: String
    let samples: Int
    let quantSize: Int
    let phase: String
    let switchedAfterRun: Int?
    let executor: String?
    let timings: SessionTimings
    let events: [String]
    let export: String?
    let output: String?

    enum CodingKeys: String, CodingKey {
        case model, samples
        case quantSize = "quant_size"
        case phase
        case switchedAfterRun = "switched_after_run"
        case executor
        case timings, events, export, output
    }
}
