import KilnCore
import KilnIR
import KilnTargets

/// The result of annotation: for each node of a graph, where it runs and why.
///
/// ```swift
/// let target = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
/// let annotation = try annotate(ShapeInference.infer(graph), for: target)
/// annotation.placements[0]  // .dpu(reason: "Conv 7x7 stride 2 on the conv engine")
/// ```
///
/// ### See Also
/// - ``partition(_:annotation:options:)``
public struct Annotation: Hashable, Sendable {
    /// The target's name.
    public var target: String
    /// One placement per node, by node index.
    public var placements: [Placement]
    /// For a node folded or fused into another (a BatchNormalization into its Conv, an
    /// activation into the op before it), that node's index. Partitioning keeps the two in
    /// the same subgraph.
    public var anchors: [Int?]

    /// Creates an annotation.
    public init(target: String, placements: [Placement], anchors: [Int?]) {
        precondition(placements.count == anchors.count, "Annotation: one anchor slot per placement")
        self.target = target
        self.placements = placements
        self.anchors = anchors
    }
}

/// Decides, for each node of `graph`, whether it runs on `target`'s DPU or on the CPU.
///
/// Run ``ShapeInference`` first: most rules need static shapes and constant weights.
/// Checks, in order: shape computations stay on the CPU; an op without a rule has no DPU
/// engine; the data must be float32 with static shapes; then the op's rule (a
/// `SupportRules+<Family>.swift` table entry) checks the target's limits.
///
/// - Parameters:
///   - graph: A graph with inferred types, nodes in topological order.
///   - target: The DPU architecture (``Catalog/architecture(named:)``).
/// - Returns: One placement per node.
public func annotate(_ graph: Graph, for target: DPUArchitecture) -> Annotation {
    let facts = GraphFacts(graph)
    let shapeNodes = ShapeComputation.nodes(facts)
    var decisions: [Decision] = []
    decisions.reserveCapacity(graph.nodes.count)
    for (index, node) in graph.nodes.enumerated() {
        let context = RuleContext(facts: facts, target: target, index: index, decisions: decisions)
        decisions.append(decide(node, context, isShapeComputation: shapeNodes.contains(index)))
    }
    decisions = SupportRules.revisit(decisions, facts: facts)
    return Annotation(target: target.name, placements: decisions.map(\.placement), anchors: decisions.map(\.anchor))
}

/// The checks every node goes through, then its op's rule.
private func decide(_ node: Node, _ context: RuleContext, isShapeComputation: Bool) -> Decision {
    if isShapeComputation { return .cpu("shape computation") }
    guard let rule = SupportRules.table[node.op] else {
        return .cpu(SupportRules.cpuOnlyReasons[node.op] ?? "\(node.op.displayName) has no DPU engine")
    }
    if let reason = context.dataTypeProblem() ?? context.dynamicShapeProblem() { return .cpu(reason) }
    return rule(context)
}

/// A rule's verdict on one node.
struct Decision: Sendable {
    /// Where the node runs and why.
    var placement: Placement
    /// For a DPU node that other ops can fuse into, the engine that runs it.
    var engine: Engine?
    /// The node this one is folded or fused into.
    var anchor: Int?
    /// Whether the node is on the DPU only for the sake of its readers (a flatten into a
    /// fully connected layer): if one of them ends up on the CPU, so does it.
    var followsReaders = false

    /// The node runs on the CPU.
    static func cpu(_ reason: String) -> Decision { Decision(placement: .cpu(reason: reason)) }

    /// The node runs on `engine` of the DPU.
    static func dpu(_ reason: String, engine: Engine? = nil) -> Decision {
        Decision(placement: .dpu(reason: reason), engine: engine)
    }

    /// The node is folded or fused into node `anchor`, which runs on the DPU.
    static func fused(into anchor: Int, _ reason: String) -> Decision {
        Decision(placement: .dpu(reason: reason), anchor: anchor)
    }
}

/// The DPU engines activations can fuse into.
enum Engine: Hashable, Sendable {
    case conv, depthwiseConv, transposedConv, depthwiseTransposedConv, conv3d, depthwiseConv3d
    case maxPool, averagePool, eltwise

    /// What the engine is called in reasons.
    var name: String {
        switch self {
        case .conv: "conv engine"
        case .depthwiseConv: "depthwise conv (ALU) engine"
        case .transposedConv: "conv engine (transposed)"
        case .depthwiseTransposedConv: "ALU engine (depthwise transposed)"
        case .conv3d: "conv engine (3-D)"
        case .depthwiseConv3d: "ALU engine (depthwise 3-D)"
        case .maxPool, .averagePool: "pooling engine"
        case .eltwise: "eltwise engine"
        }
    }

    /// The activations `limits` lets this engine fuse.
    func activations(_ limits: OperatorLimits) -> [Activation] {
        switch self {
        case .conv: limits.conv?.activations ?? []
        case .depthwiseConv: limits.depthwiseConv?.activations ?? []
        case .transposedConv: limits.transposedConv?.activations ?? []
        case .depthwiseTransposedConv: limits.depthwiseTransposedConv?.activations ?? []
        case .conv3d: limits.conv3d?.activations ?? []
        case .depthwiseConv3d: limits.depthwiseConv3d?.activations ?? []
        case .maxPool: limits.maxPool?.activations ?? []
        case .averagePool: limits.averagePool?.activations ?? []
        case .eltwise: limits.eltwise?.activations ?? []
        }
    }
}
