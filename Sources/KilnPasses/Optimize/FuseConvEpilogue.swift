import KilnCore
import KilnIR

extension Pass {
    /// Fuses what follows a float32 `Conv` into the convolution's last write, as
    /// onnxruntime's `FusedConv` does: a residual `Add` of a tensor of the conv's output shape
    /// becomes the summand `Z`, then a `Relu`, `relu6` or `Clip` with constant bounds becomes
    /// the clamp `[activation_min, activation_max]`, then a `silu` or `HardSwish` becomes the
    /// `activation` — `fusedConv(X, W, B, Z)` computes `activation(clamp(conv(X, W, B) + Z))`.
    /// The conv's result must have no other reader; each stage is fused only in that order.
    public static let fuseConvEpilogue = Pass("FuseConvEpilogue") { graph, _ in
        try Rewriter(FuseConvEpilogue.rules).rewrite(graph).graph
    }
}

/// The rules of ``Pass/fuseConvEpilogue``.
package enum FuseConvEpilogue {
    package static let rules: [RewriteRule] = [
        RewriteRule(name: "add(conv(x, w, b), z) -> fused_conv(x, w, b, z)", match: summand),
        RewriteRule(name: "relu|relu6|clip(conv(x, w, b[, z])) -> fused_conv(…, clamp)", match: activation),
        RewriteRule(name: "silu|hard_swish(fused_conv(…)) -> fused_conv(…, activation)", match: gate),
    ]

    /// The `activation` attribute values of `fusedConv`, by the op they fuse.
    package static let gates: [OpKind: String] = [.silu: "silu", .hardSwish: "hard_swish"]

    /// The conv (or fused conv without the stages that must come after the one being fused)
    /// producing `id`, when `id` is float32 and read only by the node being matched.
    private static func fusableProducer(
        of id: ValueID, _ view: RewriteView, allowingSummand: Bool, allowingClamp: Bool = false
    ) -> Node? {
        guard view.hasSingleUse(id), view.type(of: id).dtype == .float32, let producer = view.producer(of: id),
            view.singleOutput(producer) == id
        else { return nil }
        switch producer.op {
        case .conv:
            return producer
        case .fusedConv:
            let clamped = producer.attributes["activation_min"] != nil || producer.attributes["activation_max"] != nil
            let summed = producer.inputs.count > 3 && producer.inputs[3] != nil
            let gated = producer.attributes["activation"] != nil
            return !gated && (allowingClamp || !clamped) && (allowingSummand || !summed) ? producer : nil
        default:
            return nil
        }
    }

    /// The fused node: `conv`'s inputs and attributes, plus a summand and clamp bounds.
    private static func fused(
        _ conv: Node, output: ValueID, summand: ValueID?, bounds: (lower: Float, upper: Float)?
    ) -> Node {
        var inputs = Array(conv.inputs.prefix(3))
        while inputs.count < 3 { inputs.append(nil) }
        inputs.append(summand ?? (conv.inputs.count > 3 ? conv.inputs[3] : nil))
        while inputs.count > 2, inputs.last == .some(nil) { inputs.removeLast() }
        var attributes = conv.attributes
        if let bounds {
            if bounds.lower > -.infinity { attributes.values["activation_min"] = .float(bounds.lower) }
            if bounds.upper < .infinity { attributes.values["activation_max"] = .float(bounds.upper) }
        }
        return Node(name: conv.name, op: .fusedConv, inputs: inputs, outputs: [output], attributes: attributes)
    }

    private static func summand(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard node.op == .add, let (lhs, rhs) = view.binaryOperands(node), let y = view.singleOutput(node),
            let shape = view.staticShape(of: y)
        else { return nil }
        for (product, other) in [(lhs, rhs), (rhs, lhs)] where product != other {
            guard let conv = fusableProducer(of: product, view, allowingSummand: false),
                view.staticShape(of: product) == shape, view.staticShape(of: other) == shape,
                view.type(of: other).dtype == .float32
            else { continue }
            return Replacement(in: view, nodes: [fused(conv, output: y, summand: other, bounds: nil)])
        }
        return nil
    }

    private static func activation(_ node: Node, _ view: RewriteView) -> Replacement? {
        let bounds: (lower: Float, upper: Float)
        switch node.op {
        case .relu: bounds = (0, .infinity)
        case .relu6: bounds = (0, 6)
        case .clip:
            let lower = node.input(1).map { view.scalar($0) } ?? -Double.infinity
            let upper = node.input(2).map { view.scalar($0) } ?? Double.infinity
            guard let lower, let upper else { return nil }
            bounds = (Float(lower), Float(upper))
        default: return nil
        }
        guard let x = node.input(0), let y = view.singleOutput(node),
            let conv = fusableProducer(of: x, view, allowingSummand: true)
        else { return nil }
        return Replacement(in: view, nodes: [fused(conv, output: y, summand: nil, bounds: bounds)])
    }

    private static func gate(_ node: Node, _ view: RewriteView) -> Replacement? {
        guard let name = gates[node.op], let x = node.input(0), let y = view.singleOutput(node),
            let conv = fusableProducer(of: x, view, allowingSummand: true, allowingClamp: true)
        else { return nil }
        var fused = fused(conv, output: y, summand: nil, bounds: nil)
        fused.attributes.values["activation"] = .string(name)
        return Replacement(in: view, nodes: [fused])
    }
}
