import ArgumentParser
import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnQuant
import KilnRuntime
import KilnTargets
import Logging

/// `kiln compile`: an ONNX model to a `.kiln` artifact for one DPU target, calibrated from
/// data or not.
struct CompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile a model to a .kiln artifact for a DPU target (calibrated with --calib, else on the fly).",
        discussion: """
            The model is canonicalized and partitioned for the target. With --calib (the data \
            kiln quantize takes), it is quantized with the DPU scheme and every DPU subgraph is \
            compiled to a DPU program (a subgraph the DPU compiler refuses runs in float, and \
            is listed so). Without --calib the artifact is uncalibrated: its DPU subgraphs run \
            their float bodies until a session calibrates them on the fly (kiln run --calibrate, \
            KILN_QUANT_SIZE inputs). Prints the subgraphs with their device and instruction \
            counts and the artifact's size; the file is written atomically.
            """
    )

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(help: "The DPU target (a name, alias or fingerprint; see kiln targets).")
    var target: String

    @Option(help: "Calibration data: an .npz file or a directory of .npy/.npz files.")
    var calib: String?

    @Option(help: "How activation ranges are calibrated: minmax, percentile, entropy or mse.")
    var method: CalibrationMethod = .minmax

    @Option(help: "The percentile of |x| that --method percentile keeps.")
    var percentile: Double = 99.99

    @Option(name: .customLong("calib-size"), help: "Use at most this many calibration samples.")
    var calibSize: Int?

    @Option(name: [.customShort("o"), .customLong("output")], help: "The artifact to write (OUT.kiln).")
    var output: String

    @Flag(help: "Print one JSON document (the artifact, its subgraphs, its size) instead of text.")
    var json = false

    @Option(help: "Intra-op threads.")
    var threads: Int = 1

    func run() throws {
        guard threads >= 1 else { throw KilnError(.badArgument, "--threads must be at least 1, got \(threads)") }
        if calib == nil, calibSize != nil {
            throw KilnError(
                .badArgument, "--calib-size needs --calib (without data the artifact calibrates on the fly)")
        }
        let logger = Logger(label: "kiln.compile")
        let architecture = try Catalog.architecture(matching: target)
        let url = URL(fileURLWithPath: model)
        let imported = try ONNXImporter.importModel(contentsOf: url)
        let uncalibrated = try ModelCompiler.compile(
            imported.graph, modelSHA256: InferenceSession.sha256(of: url), architecture: architecture, threads: threads)
        var compiled = uncalibrated
        var samples: Int?
        if let calib {
            var config = QuantizationConfig()
            config.method = method
            config.percentile = percentile
            config.calibrationSize = calibSize
            config.threads = threads
            config.target = architecture
            try config.validate()
            let calibration = try CalibrationSet.load(
                contentsOf: URL(fileURLWithPath: calib), for: imported.graph, limit: calibSize)
            logger.info("calibrating \(model) on \(calibration.samples.count) samples")
            let bar = ProgressBar(label: "calibrate", unit: "samples")
            compiled = try ModelCompiler.calibrate(
                uncalibrated.artifact, calibration: calibration, config: config, architecture: architecture
            ) { done, total in bar?.update(done: done, total: total) }.compiled
            bar?.finish()
            samples = calibration.samples.count
        }
        try ArtifactWriter.write(compiled.tree, header: compiled.header, to: URL(fileURLWithPath: output))
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        let summary = CompileSummary(
            model: model, output: output, target: architecture.name,
            fingerprint: compiled.header.fingerprint.description,
            quantization: compiled.header.quantization.summary, calibrationSamples: samples, artifactBytes: size,
            subgraphs: compiled.subgraphs.map(CompileSummary.Subgraph.init))
        print(json ? try JSONOutput.encode(summary) : summary.text)
    }
}

/// What `kiln compile` prints.
struct CompileSummary: Encodable {
    struct Subgraph: Encodable {
        /// A DPU subgraph's input or output as its program holds it (NCHW shape, fix position).
        struct Port: Encodable {
            let name: String
            let shape: [Int]
            let fixPosition: Int

            enum CodingKeys: String, CodingKey {
                case name, shape, fixPosition = "fix_position"
            }
        }

        let id: Int
        let name: String
        let nodes: Int
        let device: String
        let instructions: Int?
        let programBytes: Int
        /// The program's inputs and outputs (`kiln show` on artifacts).
        var inputs: [Port]?
        var outputs: [Port]?
        /// The performance model's time of one call at the target's default clock, in ms.
        var predictedMs: Double?

        init(_ subgraph: CompiledSubgraph) {
            id = subgraph.id
            name = subgraph.name
            nodes = subgraph.nodes
            device = subgraph.device.description
            instructions = subgraph.instructions
            programBytes = subgraph.programBytes
        }

        enum CodingKeys: String, CodingKey {
            case id, name, nodes, device, instructions
            case programBytes = "program_bytes"
            case inputs, outputs, predictedMs = "predicted_ms"
        }

        /// One line per port, `  in  x  [1, 3, 32, 32]  fix 5`.
        var portLines: [String] {
            let ports = (inputs ?? []).map { ("in ", $0) } + (outputs ?? []).map { ("out", $0) }
            return ports.map { direction, port in
                "      \(direction)  \(port.name)  \(port.shape)  fix \(port.fixPosition)"
            }
        }
    }

    let model: String
    let output: String
    let target: String
    let fingerprint: String
    let quantization: String
    let calibrationSamples: Int?
    let artifactBytes: Int
    let subgraphs: [Subgraph]

    enum CodingKeys: String, CodingKey {
        case model, output, target, fingerprint, quantization
        case calibrationSamples = "calibration_samples"
        case artifactBytes = "artifact_bytes"
        case subgraphs
    }

    /// The human-readable form.
    var text: String {
        var lines = [
            "compiled \(model) for \(target) (fingerprint \(fingerprint)): \(quantization)",
            "subgraphs     \(subgraphs.count)",
        ]
        for subgraph in subgraphs {
            var line = "  dpu_subgraph_\(subgraph.id)  \(subgraph.name)  \(subgraph.nodes) nodes  \(subgraph.device)"
            if let instructions = subgraph.instructions {
                line += "  \(instructions) instructions, \(subgraph.programBytes) program bytes"
            }
            lines.append(line)
        }
        lines.append("wrote \(output) (\(artifactBytes) bytes)")
        return lines.joined(separator: "\n")
    }
}
