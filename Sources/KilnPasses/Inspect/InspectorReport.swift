import KilnIR

/// What `kiln inspect` reports: every node's device and reason, the DPU subgraphs, and a
/// summary. Encodes as the `kiln inspect --json` document of DESIGN.md:
///
/// ```json
/// {"target": "DPUCZDX8G_ISA1_B4096",
///  "nodes": [{"name": "conv1", "op": "Conv", "device": "DPU", "subgraph": 0, "reason": "…"}],
///  "subgraphs": [{"id": 0, "nodes": ["conv1"], "inputs": ["input"], "outputs": ["x"], "gop": 0.01}],
///  "summary": {"nodes": 1, "dpu_nodes": 1, "cpu_nodes": 0, "ops": 10000000, "dpu_ops": 10000000,
///              "cpu_ops": 0, "dpu_ops_share": 1, "subgraphs": 1, "transitions": 2}}
/// ```
///
/// Ops are estimated as 2 × MACs (see `OpCost`). Transitions count the tensors that cross
/// between the CPU and the DPU: each input and output of each DPU subgraph.
///
/// ### See Also
/// - ``InspectPipeline``
public struct InspectorReport: Codable, Hashable, Sendable {
    /// One node of the inspected graph.
    public struct NodeEntry: Codable, Hashable, Sendable {
        /// The node's name.
        public var name: String
        /// The operator (ONNX op type, or Kiln's name for canonical ops).
        public var op: String
        /// Where it runs.
        public var device: Device
        /// The DPU subgraph holding it, `null` on the CPU.
        public var subgraph: Int?
        /// Why it runs there.
        public var reason: String

        /// Creates an entry.
        public init(name: String, op: String, device: Device, subgraph: Int?, reason: String) {
            self.name = name
            self.op = op
            self.device = device
            self.subgraph = subgraph
            self.reason = reason
        }

        private enum CodingKeys: String, CodingKey { case name, op, device, subgraph, reason }

        /// Encodes every key, `subgraph` as `null` on the CPU.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(op, forKey: .op)
            try container.encode(device, forKey: .device)
            try container.encode(subgraph, forKey: .subgraph)
            try container.encode(reason, forKey: .reason)
        }
    }

    /// One DPU subgraph.
    public struct SubgraphEntry: Codable, Hashable, Sendable {
        /// Its id (the `subgraph` of its nodes).
        public var id: Int
        /// Its nodes' names, in topological order.
        public var nodes: [String]
        /// The tensors flowing in, by name.
        public var inputs: [String]
        /// The tensors it returns, by name.
        public var outputs: [String]
        /// Its estimated work in GOP (2 × MACs / 10⁹).
        public var gop: Double
    }

    /// The totals.
    public struct Summary: Codable, Hashable, Sendable {
        /// Nodes inspected.
        public var nodes: Int
        /// Nodes on the DPU.
        public var dpuNodes: Int
        /// Nodes on the CPU.
        public var cpuNodes: Int
        /// Estimated ops (2 × MACs) of the whole graph.
        public var ops: Int
        /// Estimated ops on the DPU.
        public var dpuOps: Int
        /// Estimated ops on the CPU.
        public var cpuOps: Int
        /// `dpuOps / ops` (0 for a graph without counted ops).
        public var dpuOpsShare: Double
        /// DPU subgraphs.
        public var subgraphs: Int
        /// Tensors crossing between CPU and DPU (inputs plus outputs of every subgraph).
        public var transitions: Int

        private enum CodingKeys: String, CodingKey {
            case nodes, dpuNodes = "dpu_nodes", cpuNodes = "cpu_nodes", ops, dpuOps = "dpu_ops", cpuOps = "cpu_ops"
            case dpuOpsShare = "dpu_ops_share", subgraphs, transitions
        }
    }

    /// The target's name.
    public var target: String
    /// Every node, in topological order.
    public var nodes: [NodeEntry]
    /// The DPU subgraphs, by id.
    public var subgraphs: [SubgraphEntry]
    /// The totals.
    public var summary: Summary

    /// Builds the report of a partition.
    ///
    /// - Parameters:
    ///   - graph: The graph that was annotated and partitioned (types inferred).
    ///   - result: ``partition(_:annotation:options:)``'s result for it.
    ///   - target: The target's name.
    public init(graph: Graph, result: PartitionResult, target: String) {
        self.target = target
        let macs = graph.nodes.map { OpCost.macs($0, in: graph) }
        nodes = graph.nodes.enumerated().map { index, node in
            let placement = result.placements[index]
            return NodeEntry(
                name: node.name, op: node.op.displayName, device: placement.device,
                subgraph: result.subgraphOf[index], reason: placement.reason)
        }
        subgraphs = result.subgraphs.map { subgraph in
            SubgraphEntry(
                id: subgraph.id, nodes: subgraph.nodes.map { graph.nodes[$0].name },
                inputs: subgraph.inputs.map { graph[$0].name }, outputs: subgraph.outputs.map { graph[$0].name },
                gop: Double(subgraph.nodes.reduce(0) { $0 + 2 * macs[$1] }) / 1e9)
        }
        let ops = macs.reduce(0) { $0 + 2 * $1 }
        let dpuOps = macs.indices.filter { result.placements[$0].isDPU }.reduce(0) { $0 + 2 * macs[$1] }
        let dpuNodes = result.placements.filter(\.isDPU).count
        summary = Summary(
            nodes: graph.nodes.count, dpuNodes: dpuNodes, cpuNodes: graph.nodes.count - dpuNodes,
            ops: ops, dpuOps: dpuOps, cpuOps: ops - dpuOps, dpuOpsShare: ops == 0 ? 0 : Double(dpuOps) / Double(ops),
            subgraphs: result.subgraphs.count,
            transitions: result.subgraphs.reduce(0) { $0 + $1.inputs.count + $1.outputs.count })
    }
}
