import ArgumentParser
import Foundation
import KilnCore
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
            subgraphs boxed); --svg renders it with Graphviz's 'dot', which must be on PATH.
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

    func run() throws {
        let architecture = try Catalog.architecture(matching: target)
        let renderer = try svg.map { _ in try Graphviz.dotExecutable() }
        let imported = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: model))
        let inspection = try InspectPipeline.inspect(imported.graph, target: architecture)
        let report = inspection.report
        if dot != nil || svg != nil {
            let text = report.dot(for: inspection.graph)
            if let dot { try FileIO.writeAtomically(Data(text.utf8), to: URL(fileURLWithPath: dot)) }
            if let svg, let renderer {
                try FileIO.writeAtomically(try Graphviz.svg(text, dot: renderer), to: URL(fileURLWithPath: svg))
            }
        }
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print("model \(model)")
            print(report.text)
        }
    }
}
