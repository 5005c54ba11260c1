import KilnCore
import KilnIR
import KilnTargets

extension SupportRules {
    /// Activations. The DPU applies them in the engine of the op before them (conv, pool,
    /// eltwise), each engine with its own set (``WindowLimits/activations``); a few also
    /// run standalone on the ALU (``OperatorLimits/standaloneActivations``). Raw exporter
    /// forms count as the activation they compute: `Clip(0, 6)` is ReLU6, `Clip(0, ∞)` is
    /// ReLU, `x · HardSigmoid(x)` (alpha 1/6) is HardSwish.
    static let activation: [OpKind: SupportRule] = [
        .relu: { activation(.relu, "Relu", $0) },
        .relu6: { activation(.relu6, "ReLU6", $0) },
        .hardSwish: { activation(.hardSwish, "HardSwish", $0) },
        .leakyRelu: leakyRelu,
        .hardSigmoid: hardSigmoid,
        .clip: clip,
        .pRelu: pRelu,
        .silu: { .cpu(siluReason("SiLU", $0)) },
        .sigmoid: sigmoid,
    ]

    /// The one LeakyReLU slope the DPU has: 26/256.
    static let dpuLeakySlope: Float = 26.0 / 256.0

    /// Places activation `kind` (called `what` in reasons): fused into the DPU op before
    /// it when that op's engine can apply it, else standalone on the ALU if the target
    /// has that, else on the CPU.
    static func activation(
        _ kind: Activation, _ what: String, _ context: RuleContext, note: String = "", alsoAllowed: Set<Int> = []
    ) -> Decision {
        let standalone = context.limits.standaloneActivations?.contains(kind) == true
        let standaloneDecision = Decision.dpu("\(what) runs standalone on the DPU's ALU\(note)")
        switch context.fusionTarget(0, alsoAllowed: alsoAllowed) {
        case .success(let (anchor, engine)):
            let fusable = engine.activations(context.limits)
            if context.hasFusedActivation(anchor) {
                return standalone
                    ? standaloneDecision
                    : .cpu("\(what) cannot fuse into \(context.describe(anchor)): it already has a fused activation")
            }
            if fusable.contains(kind) {
                return .fused(into: anchor, "\(what) fused into \(context.describe(anchor))\(note)")
            }
            if standalone { return standaloneDecision }
            let list = fusable.isEmpty ? "no activation" : fusable.map(\.description).joined(separator: ", ")
            return .cpu("\(what) cannot fuse into \(context.describe(anchor)): the \(engine.name) of \(context.family) fuses \(list)")
        case .failure(let problem):
            return standalone ? standaloneDecision : .cpu(problem.reason(what, context))
        }
    }

    @Sendable private static func leakyRelu(_ context: RuleContext) -> Decision {
        let alpha = context.float("alpha", default: 0.01)
        guard abs(alpha - dpuLeakySlope) <= 0.002 else {
            return .cpu("LeakyRelu slope \(alpha) is not supported; the DPU's only slope is 26/256 (≈ 0.1)")
        }
        let note = alpha == dpuLeakySlope ? "" : " (slope \(alpha) runs as 26/256)"
        return activation(.leakyReLU, "LeakyRelu", context, note: note)
    }

    @Sendable private static func hardSigmoid(_ context: RuleContext) -> Decision {
        guard isDPUHardSigmoid(context.node) else {
            let alpha = context.float("alpha", default: 0.2)
            let beta = context.float("beta", default: 0.5)
            return .cpu("HardSigmoid alpha \(alpha), beta \(beta) is not the DPU's relu6(x + 3)/6 (alpha 1/6, beta 0.5)")
        }
        if let tail = hardSwishTail(of: context) {
            return activation(.hardSwish, "HardSwish (x·HardSigmoid(x))", context, alsoAllowed: [tail])
        }
        return activation(.hardSigmoid, "HardSigmoid", context)
    }

    @Sendable private static func clip(_ context: RuleContext) -> Decision {
        let low = context.input(1) == nil ? -Double.infinity : context.constantDoubles(1)?.first
        let high = context.input(2) == nil ? Double.infinity : context.constantDoubles(2)?.first
        guard let low, let high else { return .cpu("Clip bounds are not constant") }
        switch (low, high) {
        case (0, 6): return activation(.relu6, "Clip(0, 6) as ReLU6", context)
        case (0, .infinity): return activation(.relu, "Clip(0, ∞) as Relu", context)
        default:
            return .cpu("Clip(\(bound(low)), \(bound(high))) is neither Relu nor ReLU6; the DPU clamps only to [0, 6] and [0, ∞)")
        }
    }

    @Sendable private static func pRelu(_ context: RuleContext) -> Decision {
        guard context.constant(1) != nil else { return .cpu("PRelu slope is not constant") }
        return activation(.prelu, "PRelu", context)
    }

    @Sendable private static func sigmoid(_ context: RuleContext) -> Decision {
        if siluTail(of: context) != nil { return .cpu(siluReason("SiLU (x·Sigmoid(x))", context)) }
        return .cpu("Sigmoid has no DPU engine (HardSigmoid runs on the DPU)")
    }

    /// "SiLU is not a DPU activation on DPUCZDX8G (…)".
    static func siluReason(_ what: String, _ context: RuleContext) -> String {
        let hint = (context.limits.conv?.activations.contains(.hardSwish) == true)
            ? " (HardSwish is: use it to keep the activation on the DPU)" : ""
        return "\(what) is not a DPU activation on \(context.family)\(hint)"
    }

    /// For a node computing `f(x)`, the `Mul` reading only `x` and `f(x)` that is its sole
    /// reader, if there is one: the tail of `x · f(x)`.
    private static func productTail(of context: RuleContext) -> Int? {
        guard let x = context.input(0), let output = context.node.outputs.first ?? nil,
            !context.facts.isGraphOutput[output.index]
        else { return nil }
        let readers = context.facts.readers[output.index]
        guard readers.count == 1 else { return nil }
        let mul = context.facts.graph.nodes[readers[0]]
        guard mul.op == .mul, mul.inputs.count == 2, Set(mul.inputs.compactMap { $0 }) == [x, output] else { return nil }
        return readers[0]
    }

    /// The `Mul` of `x · HardSigmoid(x)` when the context's node is that HardSigmoid.
    private static func hardSwishTail(of context: RuleContext) -> Int? { productTail(of: context) }

    /// The `Mul` of `x · Sigmoid(x)` when the context's node is that Sigmoid.
    private static func siluTail(of context: RuleContext) -> Int? { productTail(of: context) }

    /// For a `Mul` node that ends `x · HardSigmoid(x)` (alpha 1/6) or `x · Sigmoid(x)`:
    /// where it goes — with its head, as one HardSwish or SiLU — or `nil` for any other `Mul`.
    static func productHeadDecision(_ context: RuleContext) -> Decision? {
        let node = context.node
        guard node.op == .mul, node.inputs.count == 2 else { return nil }
        for slot in 0..<2 {
            guard let product = node.inputs[slot], let head = context.producer(slot), let other = node.inputs[1 - slot],
                context.facts.readers[product.index] == [context.index], !context.facts.isGraphOutput[product.index]
            else { continue }
            let headNode = context.facts.graph.nodes[head]
            guard headNode.inputs.first ?? nil == other else { continue }
            switch headNode.op {
            case .sigmoid:
                return .cpu(siluReason("SiLU (x·Sigmoid(x))", context))
            case .hardSigmoid where isDPUHardSigmoid(headNode):
                return context.decisions[head]
            default:
                continue
            }
        }
        return nil
    }

    /// Whether a HardSigmoid node has the DPU's constants (alpha 1/6, beta 0.5).
    static func isDPUHardSigmoid(_ node: Node) -> Bool {
        let alpha = (try? node.attributes.float("alpha", default: 0.2)) ?? 0.2
        let beta = (try? node.attributes.float("beta", default: 0.5)) ?? 0.5
        return abs(alpha - 1.0 / 6.0) <= 1e-4 && abs(beta - 0.5) <= 1e-6
    }

    private static func bound(_ value: Double) -> String {
        value.isInfinite ? (value > 0 ? "∞" : "−∞") : String(format: "%g", value)
    }
}
