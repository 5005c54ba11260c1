import ArgumentParser
import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnRuntime
import Logging

extension ExecutorKind: ExpressibleByArgument {}

/// `kiln run`: runs a model or a `.kiln` artifact on inputs from `.npy`/`.npz` files.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model or a .kiln artifact on inputs from .npy/.npz files.",
        discussion: """
            Inputs take their shapes from the data, so models with symbolic dimensions run at \
            whatever size the data has. Without -o, prints each output's shape and statistics. \
            An artifact (recognized by its magic) runs its CPU module with --executor (default \
            auto: the graph executor when every shape is static and there is no control flow, \
            else the VM); an ONNX model runs on the interpreter unless --executor is given.
            """
    )

    @Argument(help: "The ONNX model or .kiln artifact.")
    var model: String

    @Option(help: "auto, graph (static shapes, memory plan) or vm (dynamic shapes, If/Loop).")
    var executor: ExecutorKind?

    @Option(help: "Write a Chrome trace-event JSON (Perfetto, chrome://tracing) with one slice per kernel or subgraph call (runs under --executor, auto by default).")
    var profile: String?

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
        let url = URL(fileURLWithPath: model)
        let graph: Graph
        var artifact: Artifact?
        if ArtifactReader.hasMagic(url) || url.pathExtension == "kiln" {
            let loaded = try ArtifactReader.read(contentsOf: url)
            guard let entry = try loaded.entryModule().graph else {
                throw KilnError(.constantMissing, "the artifact's CPU module was not initialized")
            }
            graph = entry
            artifact = loaded
            logger.info("loaded artifact \(model): \(loaded.tree.modules.count) modules, \(graph.nodes.count) CPU nodes")
        } else {
            let imported = try ONNXImporter.importModel(contentsOf: url)
            graph = imported.graph
            logger.info("imported \(model): \(graph.nodes.count) nodes, opset \(imported.opset)")
        }
        let inputs = try InputLoading.load(files: inputFiles, archive: inputArchive, graph: graph)
        let trace = profile.map { _ in TraceRecorder() }
        let kind = executor ?? (artifact != nil || profile != nil ? .auto : nil)
        let runStart: Date
        let outputs: [String: Tensor]
        if let kind {
            let shapes = kind == .graph ? inputs.mapValues(\.shape) : [:]
            let runner: any SubgraphRunner = artifact.map { ModuleSubgraphRunner(tree: $0.tree) } ?? NoSubgraphRunner()
            let compiled = try kind.makeExecutor(for: graph, inputShapes: shapes, runner: runner, threads: threads)
            if let plan = compiled.plannedMemory { logger.info("memory plan: \(plan.summary)") }
            logger.info("executor: \(compiled.kindName)")
            runStart = Date()
            outputs = try compiled.run(inputs, trace: trace)
        } else {
            let interpreter = try Interpreter(graph: graph, threads: threads)
            runStart = Date()
            outputs = try interpreter.run(inputs)
        }
        let elapsed = Date().timeIntervalSince(runStart)
        logger.info("ran in \(String(format: "%.2f", elapsed * 1000)) ms (total \(Date().timeIntervalSince(start)) s)")
        if let trace, let profile {
            try trace.write(to: URL(fileURLWithPath: profile))
            print("wrote \(trace.slices.count) trace slices to \(profile)")
        }

        var comparisonFailed: String?
        if let compare {
            let expected = try NPZ.read(contentsOf: URL(fileURLWithPath: compare))
            comparisonFailed = OutputSummary.compare(outputs, expected, tolerance: tolerance, graph: graph)
        }
        if let output {
            try NPZ.write(outputs, to: URL(fileURLWithPath: output))
            print("wrote \(outputs.count) output(s) to \(output)")
        } else if compare == nil {
            for id in graph.outputs {
                let name = graph[id].name
                if let tensor = outputs[name] { print(OutputSummary.describe(name, tensor)) }
            }
        }
        print(String(format: "time: %.2f ms (%d thread%@)", elapsed * 1000, threads, threads == 1 ? "" : "s"))
        if let comparisonFailed {
            throw KilnError(.invalidArgument, comparisonFailed)
        }
    }
}
