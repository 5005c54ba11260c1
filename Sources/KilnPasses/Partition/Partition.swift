import KilnCore
import KilnIR
import KilnTargets

/// How partitioning decides which DPU regions are worth a DPU call.
public struct PartitionOptions: Hashable, Sendable {
    /// What a region must contain to stay on the DPU.
    public enum MinimumRegion: Hashable, Sendable {
        /// Every region stays, however small.
        case anyNode
        /// A region needs a Conv, ConvTranspose, Gemm or MatMul (a fully connected layer);
        /// a region of only pools, adds or reshapes costs a DPU call for little work.
        case convOrFullyConnected
    }

    /// What a region must contain (default ``MinimumRegion/convOrFullyConnected``).
    public var minimumRegion: MinimumRegion

    /// Creates options.
    public init(minimumRegion: MinimumRegion = .convOrFullyConnected) {
        self.minimumRegion = minimumRegion
    }
}

/// A partitioned graph and what happened to each node of the original.
public struct PartitionResult: Hashable, Sendable {
    /// One DPU subgraph: its id and, by original node index and value id, what it holds.
    public struct Subgraph: Hashable, Sendable {
        /// The `id` attribute of its `dpu_subgraph` node, 0, 1, … in graph order.
        public var id: Int
        /// The original nodes it holds, by index, in topological order.
        public var nodes: [Int]
        /// The values flowing in (ids of the original graph, which the partitioned graph keeps).
        public var inputs: [ValueID]
        /// The values it makes that are used outside it, or are graph outputs.
        public var outputs: [ValueID]
    }

    /// The graph with each region replaced by a `dpu_subgraph` node.
    public var graph: Graph
    /// The final placement of each original node (regions dropped as too small are back
    /// on the CPU).
    public var placements: [Placement]
    /// For each original node, the id of the subgraph holding it.
    public var subgraphOf: [Int?]
    /// The subgraphs, by id.
    public var subgraphs: [Subgraph]
}

/// The ops that make a region worth a DPU call under ``PartitionOptions/MinimumRegion/convOrFullyConnected``.
let regionAnchorOps: Set<OpKind> = [.conv, .convTranspose, .gemm, .matMul]

/// Replaces each region of DPU nodes with one `dpu_subgraph` node.
///
/// Regions come from ``RegionMerger`` (largest acyclic groups of connected DPU nodes);
/// regions that `options` find too small go back to the CPU with the reason "region too
/// small for a DPU call (no Conv/FC)". Each remaining region becomes a node of op
/// `dpuSubgraph` whose `body` attribute is a graph of the region's nodes: its inputs
/// are the values flowing in, its outputs the values used outside it (or graph
/// outputs), constants it reads are moved in as its initializers (the outer graph keeps
/// those its own nodes still read). Attributes `id` (int)
/// and `target` (string) name the subgraph and the DPU. Value names and ids are
/// unchanged: the outer graph keeps every value (values made inside a subgraph are no
/// longer defined outside it; ``Pass/eliminateDeadCode`` drops them), and a body's
/// values carry the outer names.
///
/// The result runs on the interpreter with the original graph's results.
///
/// - Parameters:
///   - graph: The annotated graph (nodes in topological order).
///   - annotation: ``annotate(_:for:)``'s result for `graph`.
///   - options: Which regions are worth keeping.
/// - Returns: The partitioned graph and the final placement of each node.
/// - Throws: `verificationFailed` if the rewrite would break an IR invariant (a bug).
public func partition(
    _ graph: Graph, annotation: Annotation, options: PartitionOptions = PartitionOptions()
) throws -> PartitionResult {
    precondition(annotation.placements.count == graph.nodes.count, "partition: the annotation is for another graph")
    let facts = GraphFacts(graph)
    var placements = annotation.placements
    var kept: [[Int]] = []
    let regions = RegionMerger.regions(
        dependencies: facts.dependencies, isDPU: placements.map(\.isDPU), anchors: annotation.anchors)
    for region in regions {
        let worthIt = switch options.minimumRegion {
        case .anyNode: true
        case .convOrFullyConnected: region.contains { regionAnchorOps.contains(graph.nodes[$0].op) }
        }
        if worthIt {
            kept.append(region)
        } else {
            for node in region { placements[node] = .cpu(reason: "region too small for a DPU call (no Conv/FC)") }
        }
    }
    var result = graph
    result.nodes = []
    var subgraphOf = [Int?](repeating: nil, count: graph.nodes.count)
    var subgraphs: [PartitionResult.Subgraph] = []
    var names = Set(graph.nodes.map(\.name))
    for (id, region) in kept.enumerated() {
        for node in region { subgraphOf[node] = id }
        let subgraph = PartitionResult.Subgraph(
            id: id, nodes: region, inputs: boundaryInputs(region, facts), outputs: boundaryOutputs(region, facts))
        subgraphs.append(subgraph)
        var name = "dpu_subgraph_\(id)"
        while names.contains(name) { name += "_" }
        names.insert(name)
        result.nodes.append(compositeNode(subgraph, name: name, target: annotation.target, facts))
    }
    // Every CPU node in its old place, each composite after them, then a stable
    // topological sort puts the composites where their inputs are ready.
    var ordered: [Node] = []
    for (index, node) in graph.nodes.enumerated() where subgraphOf[index] == nil { ordered.append(node) }
    result.nodes = ordered + result.nodes
    result = try result.topologicallySorted()
    // A constant only subgraphs read now lives in their bodies alone (an artifact would
    // otherwise store it twice).
    var read = Set(result.inputs + result.outputs + result.captures)
    for node in result.nodes {
        for case let input? in node.inputs { read.insert(input) }
        for name in Graph.captureNames(of: node) { if let id = result.valueID(named: name) { read.insert(id) } }
    }
    for id in Array(result.initializers.keys) where !read.contains(id) { result.initializers[id] = nil }
    try Verifier.verify(result)
    return PartitionResult(graph: result, placements: placements, subgraphOf: subgraphOf, subgraphs: subgraphs)
}

extension Pass {
    /// Annotates for `target` and partitions: each region of DPU nodes becomes one
    /// `dpu_subgraph` node (see ``partition(_:annotation:options:)``). Run
    /// ``ShapeInference`` (and canonicalization) before it.
    public static func partition(for target: DPUArchitecture, options: PartitionOptions = PartitionOptions()) -> Pass {
        Pass("Partition") { graph, _ in
            try KilnPasses.partition(graph, annotation: annotate(graph, for: target), options: options).graph
        }
    }
}

/// Values read by `region` that it does not make and that are not constants, in order
/// of first use.
private func boundaryInputs(_ region: [Int], _ facts: GraphFacts) -> [ValueID] {
    let inside = Set(region)
    var seen = Set<ValueID>()
    var inputs: [ValueID] = []
    for index in region {
        for case let value? in facts.graph.nodes[index].inputs {
            if let source = facts.producer[value.index], inside.contains(source) { continue }
            if facts.isConstant(value) || !seen.insert(value).inserted { continue }
            inputs.append(value)
        }
    }
    return inputs
}

/// Values made by `region` that a node outside it reads, or that are graph outputs.
private func boundaryOutputs(_ region: [Int], _ facts: GraphFacts) -> [ValueID] {
    let inside = Set(region)
    var outputs: [ValueID] = []
    for index in region {
        for case let value? in facts.graph.nodes[index].outputs
        where facts.isGraphOutput[value.index] || facts.readers[value.index].contains(where: { !inside.contains($0) }) {
            outputs.append(value)
        }
    }
    return outputs
}

/// The `dpu_subgraph` node of one region, with the region as its body.
private func compositeNode(_ subgraph: PartitionResult.Subgraph, name: String, target: String, _ facts: GraphFacts) -> Node {
    let outer = facts.graph
    var body = Graph(name: name)
    var map: [ValueID: ValueID] = [:]
    func bodyValue(_ value: ValueID) -> ValueID {
        if let mapped = map[value] { return mapped }
        let id = body.addValue(outer[value])
        map[value] = id
        if let constant = facts.constant(value) { body.initializers[id] = constant }
        return id
    }
    body.inputs = subgraph.inputs.map(bodyValue)
    for index in subgraph.nodes {
        var node = outer.nodes[index]
        node.inputs = node.inputs.map { $0.map(bodyValue) }
        node.outputs = node.outputs.map { $0.map(bodyValue) }
        body.addNode(node)
    }
    body.outputs = subgraph.outputs.map(bodyValue)
    return Node(
        name: name, op: .dpuSubgraph, inputs: subgraph.inputs, outputs: subgraph.outputs,
        attributes: Attributes([
            "body": .graph(body), "id": .int(subgraph.id), "target": .string(target),
        ]))
}
