import ArgumentParser
import Foundation
import KilnCore
import KilnDPU
import KilnONNX
import KilnPasses
import KilnTargets

/// `kiln inspect`: which nodes of a model run on a DPU target, which on the CPU, and why.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show which nodes of a model run on a DPU target and which on the CPU, and why.",
        discussion: """
            Prints one row per node (name, op, device, DPU subgraph, reason) and a summary: \
            nodes and estimated ops (2 × MACs) on the DPU and the CPU, the number of DPU \
            subgraphs, and the tensors crossing between CPU and DPU. --json prints one JSON \
            document instead. --dot writes the graph for Graphviz (nodes coloured by device, \
            subgraphs boxed); --svg renders it with Graphviz's 'dot', which must be on PATH. \
            --perf adds the DPU performance model: per subgraph the predicted latency, FPS \
            and DDR traffic (vaitrace's summary columns), and the model's end-to-end latency \
            and FPS on the board (--board, or the board a target alias names); with --json, \
            a "device" object and the details under "performance".
            """
    )

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(help: "The DPU target: a name (DPUCZDX8G_ISA1_B4096), an alias (DPUCZDX8G-kv260) or a fingerprint.")
    var target: String

    @Flag(help: "Print the report as one JSON document.")
    var json = false

    @Option(help: "Write the partitioned graph in Graphviz's DOT language to this file.")
    var dot: String?

    @Option(help: "Render the partitioned graph as SVG to this file (needs Graphviz's 'dot').")
    var svg: String?

    @Flag(help: "Predict device latency and FPS with the DPU performance model.")
    var perf = false

    @Option(help: "The board for --perf (ZCU102, ZCU104, KV260, …), which sets clock and cores.")
    var board: String?

    func run() throws {
        if board != nil && !perf { throw KilnError(.badArgument, "--board applies only with --perf") }
        let architecture = try Catalog.architecture(matching: target)
        let renderer = try svg.map { _ in try Graphviz.dotExecutable() }
        let imported = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: model))
        let inspection = try InspectPipeline.inspect(imported.graph, target: architecture)
        let report = inspection.report
        let prediction = try perf ? predict(inspection, on: architecture) : nil
        if dot != nil || svg != nil {
            let text = report.dot(for: inspection.graph)
            if let dot { try FileIO.writeAtomically(Data(text.utf8), to: URL(fileURLWithPath: dot)) }
            if let svg, let renderer {
                try FileIO.writeAtomically(try Graphviz.svg(text, dot: renderer), to: URL(fileURLWithPath: svg))
            }
        }
        if json {
            print(try prediction.map { try JSONOutput.encode(InspectPerformanceDocument(report: report, prediction: $0)) }
                ?? JSONOutput.encode(report))
        } else {
            print("model \(model)")
            print(report.text)
            if let prediction { print("\n" + prediction.text) }
        }
    }

    /// The performance model's prediction for the partitioned graph.
    private func predict(_ inspection: InspectPipeline.Inspection, on architecture: DPUArchitecture) throws -> PerformancePrediction {
        let chosen = try selectedBoard(of: architecture)
        guard let costModel = DPUCostModel(architecture: architecture, board: chosen) else {
            let missing = DPUCostModel.missingFigures(architecture: architecture, board: chosen)
            throw KilnError(
                .badArgument,
                "--perf: the performance model needs \(missing.joined(separator: ", ")) of \(architecture.name), which no source publishes")
        }
        return PerformanceModel.predict(inspection.partition.graph, with: costModel)
    }

    /// `--board`, else the board the target alias names (`DPUCZDX8G-zcu102`), else none.
    private func selectedBoard(of architecture: DPUArchitecture) throws -> BoardConfiguration? {
        try architecture.board(option: board) ?? architecture.board(forAlias: target)
    }
}

/// `kiln inspect --perf --json`: the report's keys, plus `device` (DESIGN.md's object) and
/// `performance` (per subgraph, the vaitrace columns; bandwidth, host time, assumptions).
struct InspectPerformanceDocument: Encodable {
    let report: InspectorReport
    let prediction: PerformancePrediction

    private enum CodingKeys: String, CodingKey { case device, performance }

    func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(prediction.device, forKey: .device)
        try container.encode(prediction, forKey: .performance)
    }
}
