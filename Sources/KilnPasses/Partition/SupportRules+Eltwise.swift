import KilnCore
import KilnIR
import KilnTargets

extension SupportRules {
    /// Elementwise arithmetic and BatchNormalization.
    ///
    /// Two feature maps of one shape go to the eltwise engine (add; multiply where the
    /// target has it). A per-channel constant is folded into the conv or FC before it
    /// (a bias for `Add`, a scale for `Mul`, both for BatchNormalization), or else runs as
    /// a depthwise conv (UG1414: "Elementwise multiply goes to … the depthwise-conv engine
    /// when one input is constant"; "a standalone BN becomes depthwise-conv2d").
    static let eltwise: [OpKind: SupportRule] = [
        .add: { binary($0, kind: .add) },
        .mul: { productHeadDecision($0) ?? binary($0, kind: .multiply) },
        .sum: sum,
        .batchNormalization: batchNormalization,
    ]

    private static func binary(_ context: RuleContext, kind: EltwiseKind) -> Decision {
        let name = context.node.op.displayName
        let constants = (0..<2).map { context.constant($0) }
        switch (constants[0], constants[1]) {
        case (nil, nil):
            return eltwiseEngine(context, kind: kind, inputs: 2)
        case (let constant?, nil), (nil, let constant?):
            let slot = constants[0] == nil ? 0 : 1
            return constantOperand(context, slot: slot, constant: constant, folded: kind == .add ? "bias" : "scale")
        case (.some, .some):
            return .cpu("\(name) of two constants is a constant (folded before compilation)")
        }
    }

    @Sendable private static func sum(_ context: RuleContext) -> Decision {
        let inputs = context.node.inputs.compactMap { $0 }
        if inputs.contains(where: context.facts.isConstant) {
            return .cpu("Sum with a constant operand is not supported; the eltwise engine adds feature maps")
        }
        return eltwiseEngine(context, kind: .add, inputs: inputs.count)
    }

    /// Feature maps of one shape on the eltwise engine.
    private static func eltwiseEngine(_ context: RuleContext, kind: EltwiseKind, inputs count: Int) -> Decision {
        let name = context.node.op.displayName
        guard let limits = context.limits.eltwise, limits.kinds.contains(kind) else {
            return .cpu("\(name) has no eltwise engine on \(context.target.name)")
        }
        let shapes = context.node.inputs.indices.map { context.inputShape($0) }
        guard let first = shapes.first ?? nil else { return .cpu("\(name) input shapes are unknown") }
        if let other = shapes.first(where: { $0 != first }) {
            let text = other.map { "\($0)" } ?? "an unknown shape"
            return .cpu("\(name) broadcasts \(first) with \(text); the eltwise engine needs equal shapes")
        }
        if let maximum = limits.maxInputs, count > maximum {
            return .cpu("\(name) of \(count) inputs exceeds the eltwise engine's \(maximum)")
        }
        let layer = LayerGeometry(inputChannels: channelCount(first))
        for rule in limits.constraints where !rule.isSatisfied(by: layer) {
            return .cpu(describeViolation(rule, layer))
        }
        return .dpu("eltwise \(name) on the \(Engine.eltwise.name)", engine: .eltwise)
    }

    /// `x ⊙ c` with a constant `c`: folded into the op before, or a depthwise conv.
    private static func constantOperand(_ context: RuleContext, slot: Int, constant: Tensor, folded: String) -> Decision {
        let name = context.node.op.displayName
        guard let shape = context.inputShape(slot), isPerChannel(constant.shape, of: shape) else {
            return .cpu("\(name) of a constant shaped \(constant.shape) is not per-channel; the DPU applies constants per channel")
        }
        let fusion = context.fusionTarget(slot)
        if case .success(let (anchor, engine)) = fusion, foldingEngines.contains(engine), !context.hasFusedActivation(anchor) {
            return .fused(into: anchor, "\(folded) folded into \(context.describe(anchor))")
        }
        if shape.count == 4, context.limits.depthwiseConv != nil {
            return .dpu("\(name) of a per-channel constant runs as a depthwise conv", engine: .depthwiseConv)
        }
        return .cpu("\(name) of a constant cannot fold into the op before it, and only 4-D feature maps run as a depthwise conv")
    }

    @Sendable private static func batchNormalization(_ context: RuleContext) -> Decision {
        guard (1...4).allSatisfy({ context.constant($0) != nil }) else {
            return .cpu("BatchNormalization scale, bias, mean or variance is not constant")
        }
        let fusion = context.fusionTarget(0)
        if case .success(let (anchor, engine)) = fusion, foldingEngines.contains(engine), !context.hasFusedActivation(anchor) {
            return .fused(into: anchor, "folded into \(context.describe(anchor))")
        }
        guard let shape = context.inputShape(0), shape.count == 4 else {
            return .cpu("BatchNormalization of a \(context.inputShape(0)?.count ?? 0)-D tensor cannot fold into the op before it")
        }
        guard context.limits.depthwiseConv != nil else {
            return .cpu("BatchNormalization cannot fold into the op before it, and \(context.target.name) has no depthwise conv to run it")
        }
        return .dpu("BatchNormalization runs as a depthwise conv", engine: .depthwiseConv)
    }

    /// The channel axis: 1 for 4-D (and 5-D) NCHW feature maps, else the last axis (a
    /// fully connected layer's features).
    static func channelAxis(rank: Int) -> Int { rank >= 4 ? 1 : max(rank - 1, 0) }

    /// The channel count of a feature map of `shape`.
    static func channelCount(_ shape: [Int]) -> Int { shape.isEmpty ? 1 : shape[channelAxis(rank: shape.count)] }

    /// Whether a constant of `constant` shape broadcast against `shape` varies at most
    /// along the channel axis.
    static func isPerChannel(_ constant: [Int], of shape: [Int]) -> Bool {
        guard constant.count <= shape.count else { return false }
        let offset = shape.count - constant.count
        let channel = channelAxis(rank: shape.count)
        for (index, size) in constant.enumerated() where size != 1 {
            if index + offset != channel || size != shape[channel] { return false }
        }
        return true
    }
}
