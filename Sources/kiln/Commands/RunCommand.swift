import ArgumentParser
import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnRuntime
import KilnTargets
import Logging

extension ExecutorKind: ExpressibleByArgument {}
extension GraphOptimization: ExpressibleByArgument {}

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
            else the VM): DPU subgraphs run their programs on the DPU emulator, or their float \
            bodies in an uncalibrated artifact; an ONNX model runs on the interpreter unless \
            --executor is given. --calibrate runs the samples of --inputs through one session \
            that quantizes on the fly (KILN_BUILD_DIR caches the result) and --export writes \
            the calibrated artifact. --dump DIR writes every feature map of every DPU subgraph \
            call (raw int8 .bin, NCHW, C order, plus DIR/dump.json with shapes, fix positions and \
            roles; a subgraph called several times keeps its first call); --compare-dump DIR \
            checks a dump (the one just written when DIR is the same) against the quantizer's \
            fake-quant simulation on the same inputs, one row per tensor, and fails if any differs.
            """
    )

    @Argument(help: "The ONNX model or .kiln artifact.")
    var model: String

    @Option(help: "auto, graph (static shapes, memory plan) or vm (dynamic shapes, If/Loop).")
    var executor: ExecutorKind?

    @Option(help: "Graph optimization under an executor: all (fold batch norms, fuse conv epilogues) or none.")
    var optimization: GraphOptimization = .all

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

    @Flag(help: "Quantize on the fly: run every sample of --inputs (first axis = samples) through one session; the first N (the sample count, or KILN_QUANT_SIZE if smaller) calibrate in float, then the DPU subgraphs switch on.")
    var calibrate = false

    @Option(help: "With --calibrate: write the artifact as it is after the run (calibrated and compiled) to this .kiln file.")
    var export: String?

    @Option(help: "The DPU target (a name, alias or fingerprint): an ONNX model is compiled for it in memory (required with --calibrate); an artifact compiled for another DPU is recompiled for it.")
    var target: String?

    @Flag(help: "With --calibrate or --compare-dump: print one JSON document instead of text.")
    var json = false

    @Option(help: "Write every DPU-visible feature map of a compiled artifact's DPU subgraph calls to this directory: subgraph_<id>/<tensor>.bin (raw int8, NCHW) and dump.json.")
    var dump: String?

    @Option(help: "Compare the dump in this directory (e.g. the one --dump just wrote) with the fake-quant simulation on the same inputs; fails on any mismatch.")
    var compareDump: String?

    func run() throws {
        guard threads >= 1 else { throw KilnError(.badArgument, "--threads must be at least 1, got \(threads)") }
        if dump != nil || compareDump != nil {
            try checkDumpArguments()
        }
        if calibrate {
            try runCalibrating()
            return
        }
        if export != nil || (json && compareDump == nil) {
            throw KilnError(.badArgument, "--export goes with --calibrate, --json with --calibrate or --compare-dump")
        }
        let logger = Logger(label: "kiln.run")
        let start = Date()
        let url = URL(fileURLWithPath: model)
        let graph: Graph
        var artifact: Artifact?
        let architecture = try target.map { try Catalog.architecture(matching: $0) }
        if ArtifactReader.hasMagic(url) || url.pathExtension == "kiln" {
            var loaded = try ArtifactReader.read(
                contentsOf: url, expectedFingerprint: architecture?.fingerprint, allowRecompile: true)
            if let architecture, loaded.needsRecompile {
                logger.info("recompiling \(model) from \(loaded.header.target) for \(architecture.name)")
                loaded = try ModelCompiler.recompile(loaded, for: architecture, threads: threads)
            }
            guard let entry = try loaded.entryModule().graph else {
                throw KilnError(.constantMissing, "the artifact's CPU module was not initialized")
            }
            graph = entry
            artifact = loaded
            let floatSubgraphs = ((try? ModelCompiler.subgraphs(of: loaded)) ?? []).filter { $0.device != .dpu }
            if !calibrate {
                // Not silent: the user asked for an accelerated artifact and gets float for these.
                for subgraph in floatSubgraphs {
                    FileHandle.standardError.write(Data("note: \(subgraph.name): \(subgraph.device.description)\n".utf8))
                }
            }
            logger.info(
                "loaded artifact \(model): \(loaded.tree.modules.count) modules, \(graph.nodes.count) CPU nodes")
        } else if let architecture {
            // Compiled in memory for the target (uncalibrated: DPU subgraphs run their float bodies).
            let compiled = try ModelCompiler.compile(
                ONNXImporter.importModel(contentsOf: url).graph, modelSHA256: InferenceSession.sha256(of: url),
                architecture: architecture, threads: threads)
            artifact = compiled.artifact
            graph = try ModelCompiler.entryGraph(of: compiled.artifact)
            logger.info(
                "compiled \(model) in memory for \(architecture.name): \(compiled.subgraphs.count) DPU subgraph(s)")
        } else {
            let imported = try ONNXImporter.importModel(contentsOf: url)
            graph = imported.graph
            logger.info("imported \(model): \(graph.nodes.count) nodes, opset \(imported.opset)")
        }
        if dump != nil || compareDump != nil { try Self.checkDumpable(artifact) }
        var inputs = try InputLoading.load(files: inputFiles, archive: inputArchive, graph: graph)
        if dump != nil || compareDump != nil {
            let first = Self.firstSample(of: inputs, graph: graph)
            if first.samples > 1 { logger.notice("--dump/--compare-dump: using the first of \(first.samples) samples") }
            inputs = first.inputs
        }
        let recorder = dump.map { _ in SubgraphDumpRecorder() }
        let trace = profile.map { _ in TraceRecorder() }
        let kind = executor ?? (artifact != nil || profile != nil ? .auto : nil)
        let runStart: Date
        let outputs: [String: Tensor]
        if let kind {
            let shapes = kind == .graph ? inputs.mapValues(\.shape) : [:]
            var runner: any SubgraphRunner =
                artifact.map { ModuleSubgraphRunner(tree: $0.tree, floatBodies: true) } ?? NoSubgraphRunner()
            if let recorder, let base = runner as? ModuleSubgraphRunner {
                runner = DumpingSubgraphRunner(base: base, sink: { recorder.record($0) })
            }
            let compiled = try kind.makeExecutor(
                for: graph, inputShapes: shapes, runner: runner, threads: threads, optimization: optimization)
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

        if let recorder, let dump, let artifact {
            try writeDump(recorder, artifact: artifact, to: dump)
        }
        var comparisonFailed: String?
        if let compare {
            let expected = try NPZ.read(contentsOf: URL(fileURLWithPath: compare))
            comparisonFailed = OutputSummary.compare(outputs, expected, tolerance: tolerance, graph: graph)
        }
        if let output {
            try NPZ.write(outputs, to: URL(fileURLWithPath: output))
            if !json { print("wrote \(outputs.count) output(s) to \(output)") }
        } else if compare == nil, !json {
            for id in graph.outputs {
                let name = graph[id].name
                if let tensor = outputs[name] { print(OutputSummary.describe(name, tensor)) }
            }
        }
        if !json {
            print(String(format: "time: %.2f ms (%d thread%@)", elapsed * 1000, threads, threads == 1 ? "" : "s"))
        }
        if let comparisonFailed {
            throw KilnError(.invalidArgument, comparisonFailed)
        }
        if let compareDump, let artifact {
            try compareWithDump(artifact: artifact, inputs: inputs, directory: compareDump)
        }
    }
}
