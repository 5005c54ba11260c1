import Foundation
import KilnIR

extension InspectorReport {
    /// Fill colours of DPU and CPU nodes.
    static let dpuColor = "#a5d6a7"
    static let cpuColor = "#cfd8dc"

    /// The graph in Graphviz's DOT language: nodes coloured by device (green DPU, grey
    /// CPU), each DPU subgraph a cluster, graph inputs and outputs as ellipses, the reason
    /// as each node's tooltip. Constants are left out.
    ///
    /// - Parameter graph: The graph the report describes (same nodes, same order).
    public func dot(for graph: Graph) -> String {
        precondition(graph.nodes.count == nodes.count, "InspectorReport.dot: the report is for another graph")
        var lines = [
            "digraph \(Self.quoted(graph.name)) {",
            "  rankdir=TB;",
            "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];",
            "  edge [color=\"#607d8b\"];",
        ]
        func nodeLine(_ index: Int, indent: String) -> String {
            let entry = nodes[index]
            let color = entry.device == .dpu ? Self.dpuColor : Self.cpuColor
            let label = "\(entry.name)\n\(entry.op) · \(entry.device.rawValue)"
            return "\(indent)n\(index) [label=\(Self.quoted(label)), fillcolor=\"\(color)\", tooltip=\(Self.quoted(entry.reason))];"
        }
        let constants = Set(graph.initializers.keys).subtracting(graph.inputs)
        for input in graph.inputs where !constants.contains(input) {
            let value = graph[input]
            lines.append("  v\(input.raw) [label=\(Self.quoted("\(value.name)\n\(value.type)")), shape=ellipse, style=solid];")
        }
        for subgraph in subgraphs {
            lines.append("  subgraph cluster_dpu_\(subgraph.id) {")
            lines.append("    label=\(Self.quoted("DPU subgraph \(subgraph.id)")); style=\"rounded,dashed\"; color=\"#2e7d32\"; fontcolor=\"#2e7d32\";")
            for (index, entry) in nodes.enumerated() where entry.subgraph == subgraph.id {
                lines.append(nodeLine(index, indent: "    "))
            }
            lines.append("  }")
        }
        for (index, entry) in nodes.enumerated() where entry.subgraph == nil {
            lines.append(nodeLine(index, indent: "  "))
        }
        var producer: [ValueID: Int] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for case let output? in node.outputs { producer[output] = index }
        }
        for (index, node) in graph.nodes.enumerated() {
            var seen = Set<ValueID>()
            for case let input? in node.inputs where !constants.contains(input) && seen.insert(input).inserted {
                if let source = producer[input] {
                    lines.append("  n\(source) -> n\(index);")
                } else if graph.inputs.contains(input) {
                    lines.append("  v\(input.raw) -> n\(index);")
                }
            }
        }
        for output in graph.outputs {
            let value = graph[output]
            lines.append("  out\(output.raw) [label=\(Self.quoted("\(value.name)\n\(value.type)")), shape=ellipse, style=solid];")
            if let source = producer[output] {
                lines.append("  n\(source) -> out\(output.raw);")
            } else {
                lines.append("  v\(output.raw) -> out\(output.raw);")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A DOT string literal.
    private static func quoted(_ text: String) -> String {
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
    }
}
