import KilnCore
import KilnIR
import KilnTargets

/// What a support rule knows when it judges one node: the graph's use-def facts, the
/// target, and the decisions already taken for the nodes before it (topological order,
/// so every producer is decided).
struct RuleContext {
    /// Use-def facts of the graph.
    let facts: GraphFacts
    /// The DPU being targeted.
    let target: DPUArchitecture
    /// The node's index.
    let index: Int
    /// Decisions for nodes `0..<index`.
    let decisions: [Decision]

    /// The node being judged.
    var node: Node { facts.graph.nodes[index] }
    /// The target's operator limits.
    var limits: OperatorLimits { target.limits }
    /// The target's family name, `DPUCZDX8G`.
    var family: String { target.family.rawValue }

    // MARK: Inputs and outputs

    /// Input `slot`, when present.
    func input(_ slot: Int) -> ValueID? { node.input(slot) }

    /// The type of input `slot`, or `.unknown`.
    func inputType(_ slot: Int) -> TensorType {
        input(slot).map { facts.graph[$0].type } ?? .unknown
    }

    /// The static shape of input `slot`.
    func inputShape(_ slot: Int) -> [Int]? { inputType(slot).staticShape }

    /// The static shape of output `slot`.
    func outputShape(_ slot: Int = 0) -> [Int]? {
        guard slot < node.outputs.count, let output = node.outputs[slot] else { return nil }
        return facts.graph[output].type.staticShape
    }

    /// The constant data of input `slot` (an initializer that is not a graph input).
    func constant(_ slot: Int) -> Tensor? { input(slot).flatMap(facts.constant) }

    /// The integers of a constant input.
    func constantInts(_ slot: Int) -> [Int]? { constant(slot)?.integerScalars() }

    /// The numbers of a constant input, as doubles.
    func constantDoubles(_ slot: Int) -> [Double]? { constant(slot)?.doubleScalars() }

    /// The node producing input `slot`, if a node does.
    func producer(_ slot: Int) -> Int? { input(slot).flatMap { facts.producer[$0.index] } }

    /// The name of node `index`, quoted, with its op: `Conv 'conv1'`.
    func describe(_ index: Int) -> String {
        let node = facts.graph.nodes[index]
        return "\(node.op.displayName) '\(node.name)'"
    }

    /// An integer-list attribute, `nil` when absent or malformed.
    func ints(_ name: String) -> [Int]? { try? node.attributes.ints(name) }

    /// An integer attribute, `defaultValue` when absent or malformed.
    func int(_ name: String, default defaultValue: Int) -> Int {
        (try? node.attributes.int(name, default: defaultValue)) ?? defaultValue
    }

    /// A float attribute, `defaultValue` when absent or malformed.
    func float(_ name: String, default defaultValue: Float) -> Float {
        (try? node.attributes.float(name, default: defaultValue)) ?? defaultValue
    }

    /// A string attribute, `defaultValue` when absent or malformed.
    func string(_ name: String, default defaultValue: String) -> String {
        (try? node.attributes.string(name, default: defaultValue)) ?? defaultValue
    }

    // MARK: Checks every DPU candidate goes through

    /// The data the DPU would run must be float32 (quantized to int8 later): input 0 and
    /// every output, except the index results of ops in ``SupportRules/integerResults``.
    func dataTypeProblem() -> String? {
        var types: [TensorType] = [inputType(0)]
        if !SupportRules.integerResults.contains(node.op) {
            types += node.outputs.compactMap { $0.map { facts.graph[$0].type } }
        }
        for type in types {
            guard let dtype = type.dtype else { return "element type unknown (shape inference could not infer it)" }
            if dtype != .float32 { return "\(dtype) tensors run on the CPU" }
        }
        return nil
    }

    /// The DPU needs static shapes: input 0 and every output must have known dimensions.
    func dynamicShapeProblem() -> String? {
        let values = [input(0)].compactMap { $0 } + node.outputs.compactMap { $0 }
        for value in values {
            let type = facts.graph[value].type
            guard let shape = type.shape else {
                return "dynamic shape: the DPU needs static shapes (rank of '\(facts.graph[value].name)' unknown)"
            }
            for (axis, dim) in shape.enumerated() {
                switch dim {
                case .known: continue
                case .symbol(let name): return "dynamic shape: the DPU needs static shapes (dim '\(name)')"
                case .unknown:
                    return "dynamic shape: the DPU needs static shapes (dim \(axis) of '\(facts.graph[value].name)' unknown)"
                }
            }
        }
        return nil
    }

    // MARK: Fusion

    /// Where an activation (or folded op) reading input `slot` can fuse: the DPU node it
    /// would join and that node's engine, or why it cannot.
    ///
    /// The input must come from a DPU node; a node that is itself folded into another
    /// hands on its anchor. The value must have no other reader (`alsoAllowed` excepted)
    /// and not be a graph output, or the unfused result would be lost.
    func fusionTarget(_ slot: Int = 0, alsoAllowed: Set<Int> = []) -> Result<(anchor: Int, engine: Engine), FusionProblem> {
        guard let value = input(slot), let source = facts.producer[value.index] else {
            return .failure(.noProducer)
        }
        let decision = decisions[source]
        guard decision.placement.isDPU else { return .failure(.producerOnCPU(source)) }
        let others = facts.readers[value.index].filter { $0 != index && !alsoAllowed.contains($0) }
        if let other = others.first { return .failure(.sharedResult(source, other)) }
        if facts.isGraphOutput[value.index] { return .failure(.graphOutput(source)) }
        let anchor = decision.anchor ?? source
        guard let engine = decisions[anchor].engine else { return .failure(.noEngine(source)) }
        return .success((anchor, engine))
    }

    /// Whether some node before this one is already fused into `anchor` as an activation.
    func hasFusedActivation(_ anchor: Int) -> Bool {
        decisions.indices.contains { decisions[$0].anchor == anchor && SupportRules.isActivation(facts.graph.nodes[$0]) }
    }
}

/// Why an op cannot fuse into the node before it.
enum FusionProblem: Error {
    case noProducer
    case producerOnCPU(Int)
    case sharedResult(Int, Int)
    case graphOutput(Int)
    case noEngine(Int)

    /// The reason, for `what` (e.g. `ReLU6`), in the words of `context`.
    func reason(_ what: String, _ context: RuleContext) -> String {
        switch self {
        case .noProducer:
            "\(what) reads a graph input or constant; there is no DPU op to fuse it into"
        case .producerOnCPU(let source):
            "\(what) follows \(context.describe(source)), which runs on the CPU; there is no DPU op to fuse it into"
        case .sharedResult(let source, let other):
            "\(what) cannot fuse into \(context.describe(source)): its result is also read by \(context.describe(other))"
        case .graphOutput(let source):
            "\(what) cannot fuse into \(context.describe(source)): its result is a graph output"
        case .noEngine(let source):
            "\(what) cannot fuse into \(context.describe(source)) (no conv, pool or eltwise engine runs it)"
        }
    }
}
