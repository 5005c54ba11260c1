import ArgumentParser
import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnRuntime

/// `kiln show`: prints a model's IR (inputs, outputs, nodes with inferred types), or an
/// artifact's header, module tree and sections.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a model's graph in Kiln's IR with inferred shapes and types, or a .kiln artifact's module tree.",
        discussion: """
            An artifact (recognized by its magic, whatever its name) is verified in full first: \
            a damaged file is an error, never a partial listing.
            """
    )

    @Argument(help: "The ONNX model or .kiln artifact.")
    var model: String

    @Flag(help: "Print one JSON document instead of text (model facts, inputs, outputs, op counts; or the artifact's header, module tree and sections).")
    var json = false

    func run() throws {
        let url = URL(fileURLWithPath: model)
        if ArtifactReader.hasMagic(url) || url.pathExtension == "kiln" {
            let summary = ArtifactSummary(path: model, artifact: try ArtifactReader.read(contentsOf: url))
            print(json ? try JSONOutput.encode(summary) : summary.text)
            return
        }
        let imported = try ONNXImporter.importModel(contentsOf: url)
        if json {
            print(try JSONOutput.encode(ModelSummary(model: model, imported: imported)))
        } else {
            print("model \(model): opset \(imported.opset), IR version \(imported.irVersion)"
                + (imported.producer.isEmpty ? "" : ", produced by \(imported.producer)"))
            print(imported.graph.printed())
        }
    }
}

/// The `kiln show --json` document.
struct ModelSummary: Encodable {
    struct TensorInfo: Encodable {
        let name: String
        let dtype: String?
        let shape: [String]?
    }

    let model: String
    let opset: Int
    let irVersion: Int
    let producer: String
    let inputs: [TensorInfo]
    let outputs: [TensorInfo]
    let nodes: Int
    let initializers: Int
    let parameters: Int
    let ops: [String: Int]

    init(model: String, imported: ImportedModel) {
        let graph = imported.graph
        func info(_ id: ValueID) -> TensorInfo {
            let value = graph[id]
            return TensorInfo(name: value.name, dtype: value.type.dtype?.rawValue, shape: value.type.shape?.map(\.description))
        }
        self.model = model
        opset = imported.opset
        irVersion = imported.irVersion
        producer = imported.producer
        inputs = graph.inputs.filter { graph.initializers[$0] == nil }.map(info)
        outputs = graph.outputs.map(info)
        nodes = graph.nodes.count
        initializers = graph.initializers.count
        parameters = graph.initializers.values.reduce(0) { $0 + $1.count }
        ops = graph.nodes.reduce(into: [:]) { $0[$1.op.rawValue, default: 0] += 1 }
    }

    enum CodingKeys: String, CodingKey {
        case model, opset, irVersion = "ir_version", producer, inputs, outputs, nodes, initializers, parameters, ops
    }
}
