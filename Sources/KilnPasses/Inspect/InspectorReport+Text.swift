import Foundation

extension InspectorReport {
    /// The human-readable report: one row per node (name, op, device, subgraph, reason),
    /// then the summary and one line per subgraph.
    public var text: String {
        let header = ["NAME", "OP", "DEVICE", "SUBGRAPH", "REASON"]
        let rows = nodes.map { node in
            [node.name, node.op, node.device.rawValue, node.subgraph.map(String.init) ?? "-", node.reason]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        var lines = ([header] + rows).map { cells in
            cells.enumerated().map { column, cell in
                column == cells.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }
            .joined(separator: "  ")
        }
        lines.append("")
        lines += summaryLines
        return lines.joined(separator: "\n")
    }

    /// The summary, as lines of text.
    public var summaryLines: [String] {
        let s = summary
        var lines = [
            "target \(target): \(s.nodes) nodes, \(s.dpuNodes) on the DPU and \(s.cpuNodes) on the CPU, "
                + "\(s.subgraphs) DPU subgraph\(s.subgraphs == 1 ? "" : "s")",
            "estimated work: \(Self.gop(s.ops)) GOP, \(String(format: "%.1f", 100 * s.dpuOpsShare))% on the DPU "
                + "(\(Self.gop(s.dpuOps)) GOP DPU, \(Self.gop(s.cpuOps)) GOP CPU)",
            "DPU↔CPU transitions: \(s.transitions) tensor\(s.transitions == 1 ? "" : "s") cross between CPU and DPU",
        ]
        for subgraph in subgraphs {
            lines.append(
                "subgraph \(subgraph.id): \(subgraph.nodes.count) node\(subgraph.nodes.count == 1 ? "" : "s"), "
                    + "\(String(format: "%.4g", subgraph.gop)) GOP, inputs \(subgraph.inputs.joined(separator: ", ")), "
                    + "outputs \(subgraph.outputs.joined(separator: ", "))")
        }
        return lines
    }

    /// `0.0123` (4 significant digits).
    private static func gop(_ ops: Int) -> String { String(format: "%.4g", Double(ops) / 1e9) }
}
