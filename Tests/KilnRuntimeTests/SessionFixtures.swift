import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnQuant
import KilnRuntime
import KilnTargets
import KilnTestSupport
import Testing

/// Models, samples and comparisons shared by the session tests.
enum SessionFixtures {
    /// The target the session tests compile for (ZCU102's B4096).
    static let targetName = "DPUCZDX8G_ISA1_B4096"
    /// Another DPU (KV260's B3136), for build-dir misses.
    static let otherTargetName = "DPUCZDX8G_ISA1_B3136"

    /// A reference model: its file, float graph and reference input feed.
    struct Model {
        var url: URL
        var graph: Graph
        var feed: [String: Tensor]
        var sha256: String
    }

    /// A reference model by name; when the generated models are absent (no
    /// `KILN_MODEL_DATA`), the example the repository ships (mobilenetv2_tiny).
    static func model(_ name: String = "resnet_tiny") throws -> Model {
        guard let entry = ReferenceModels.manifest.first(where: { $0.name == name }) else { return try shippedModel() }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let feed = try #require(try entry.inputSets().first?.inputs)
        return Model(
            url: entry.modelURL, graph: graph, feed: feed, sha256: try InferenceSession.sha256(of: entry.modelURL))
    }

    /// `Examples/mobilenetv2_tiny.onnx` and its inputs, shipped with the repository.
    static func shippedModel() throws -> Model {
        let examples = ArtifactFixtures.root.appendingPathComponent("Examples")
        let url = examples.appendingPathComponent("mobilenetv2_tiny.onnx")
        let graph = try ONNXImporter.importModel(contentsOf: url).graph
        let feed = try NPZ.read(contentsOf: examples.appendingPathComponent("mobilenetv2_tiny.inputs.npz"))
        return Model(url: url, graph: graph, feed: feed, sha256: try InferenceSession.sha256(of: url))
    }

    /// `count` deterministic inputs derived from `feed`: scaled (0.6…) and perturbed per sample.
    static func samples(from feed: [String: Tensor], count: Int, seed: Int = 0) -> [[String: Tensor]] {
        (0..<count).map { index in
            let sample = index + seed * 1000
            let factor = Float(0.6 + 0.1 * Double(sample % 9))
            return feed.mapValues { tensor in
                guard tensor.dtype == .float32 else { return tensor }
                let values = tensor.scalars(as: Float.self)
                var scaled = [Float](repeating: 0, count: values.count)
                for position in values.indices {
                    let wobble = Float(sin(Double(position * 7 + sample * 13))) * 0.1
                    scaled[position] = values[position] * factor + wobble
                }
                return Tensor(shape: tensor.shape, scalars: scaled)
            }
        }
    }

    /// Options without the environment, for the given executor and N.
    static func options(
        _ executor: ExecutorKind = .auto, quantSize: Int = 8, buildDirectory: URL? = nil
    ) -> SessionOptions {
        var options = SessionOptions(environment: [:])
        options.executor = executor
        options.quantSize = quantSize
        options.threads = 2
        options.buildDirectory = buildDirectory
        return options
    }

    /// A fresh directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-session-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The uncalibrated artifact of `model`, written to `directory/uncalibrated.kiln`.
    static func uncalibratedArtifact(_ model: Model, in directory: URL, target: DPUArchitecture) throws -> URL {
        let compiled = try ModelCompiler.compile(model.graph, modelSHA256: model.sha256, architecture: target)
        let url = directory.appendingPathComponent("uncalibrated.kiln")
        try ArtifactWriter.write(compiled.tree, header: compiled.header, to: url)
        return url
    }

    /// The largest absolute difference between two float tensors (∞ for differing shapes).
    static func maxDifference(_ a: Tensor, _ b: Tensor) -> Double {
        guard a.shape == b.shape else { return .infinity }
        return zip(a.doubleScalars(), b.doubleScalars()).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// Program bytes of the artifact's DPU module, by subgraph id.
    static func programs(_ artifact: Artifact) -> [Int: Data] {
        artifact.tree.modules.compactMap { $0 as? DPUModule }.first?.programs ?? [:]
    }
}
