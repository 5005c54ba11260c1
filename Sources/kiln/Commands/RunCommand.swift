import ArgumentParser
import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import Logging

/// `kiln run`: runs a model on inputs from `.npy`/`.npz` files.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model on inputs from .npy/.npz files.",
        discussion: """
            Inputs take their shapes from the data, so models with symbolic dimensions run at \
            whatever size the data has. Without -o, prints each output's shape and statistics.
            """
    )

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(name: [.customShort("i"), .customLong("input")], help: "An input as NAME=FILE.npy (repeatable); FILE.npy alone for a single-input model.")
    var inputFiles: [String] = []

    @Option(name: .customLong("inputs"), help: "An .npz archive with one array per input name.")
    var inputArchive: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write every graph output to this .npz, under its ONNX name.")
    var output: String?

    @Option(help: "Compare the outputs with this .npz (e.g. onnxruntime's) and fail if any differs by more than --tolerance × its range.")
    var compare: String?

    @Option(help: "Relative tolerance for --compare.")
    var tolerance: Double = 1e-4

    @Option(help: "Intra-op threads.")
    var threads: Int = 1

    func run() throws {
        guard threads >= 1 else { throw KilnError(.badArgument, "--threads must be at least 1, got \(threads)") }
        let logger = Logger(label: "kiln.run")
        let start = Date()
        let imported = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: model))
        logger.info("imported \(model): \(imported.graph.nodes.count) nodes, opset \(imported.opset)")
        let interpreter = try Interpreter(graph: imported.graph, threads: threads)
        let inputs = try InputLoading.load(
            files: inputFiles, archive: inputArchive, graph: imported.graph)
        let runStart = Date()
        let outputs = try interpreter.run(inputs)
        let elapsed = Date().timeIntervalSince(runStart)
        logger.info("ran in \(String(format: "%.2f", elapsed * 1000)) ms (total \(Date().timeIntervalSince(start)) s)")

        var comparisonFailed: String?
        if let compare {
            let expected = try NPZ.read(contentsOf: URL(fileURLWithPath: compare))
            comparisonFailed = OutputSummary.compare(outputs, expected, tolerance: tolerance, graph: imported.graph)
        }
        if let output {
            try NPZ.write(outputs, to: URL(fileURLWithPath: output))
            print("wrote \(outputs.count) output(s) to \(output)")
        } else if compare == nil {
            for id in imported.graph.outputs {
                let name = imported.graph[id].name
                if let tensor = outputs[name] { print(OutputSummary.describe(name, tensor)) }
            }
        }
        print(String(format: "time: %.2f ms (%d thread%@)", elapsed * 1000, threads, threads == 1 ? "" : "s"))
        if let comparisonFailed {
            throw KilnError(.invalidArgument, comparisonFailed)
        }
    }
}
