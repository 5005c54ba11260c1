import ArgumentParser
import Foundation
import KilnCore
import KilnIR
import KilnONNX

/// `kiln show`: prints a model's IR (inputs, outputs, nodes with inferred types).
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a model's graph in Kiln's IR with inferred shapes and types."
    )

    @Argument(help: "The ONNX model.")
    var model: String

    @Flag(help: "Print one JSON document (model facts, inputs, outputs, op counts) instead of the IR.")
    var json = false

    func run() throws {
        let imported = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: model))
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
