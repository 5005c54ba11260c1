import KilnIR
import KilnTargets

extension SupportRules {
    /// Fully connected layers: `Gemm` and `MatMul` with constant 2-D weights. The DPU runs
    /// them as 1x1 convolutions (UG1414: "InnerProduct / FC / MatMul: converted to
    /// conv2d"), so the conv engine's channel limits apply with ic = K and oc = N.
    static let matrix: [OpKind: SupportRule] = [
        .gemm: gemm,
        .matMul: matMul,
    ]

    @Sendable private static func gemm(_ context: RuleContext) -> Decision {
        guard let input = context.inputShape(0), input.count == 2 else {
            return .cpu("Gemm input is not a 2-D matrix")
        }
        guard let weights = context.constant(1)?.shape, weights.count == 2 else {
            return .cpu("Gemm of two computed matrices is not supported; the DPU's fully connected layer needs constant weights")
        }
        if context.int("transA", default: 0) != 0 {
            return .cpu("Gemm with transA = 1 is not supported; the DPU's fully connected layer reads rows of A")
        }
        if let bias = context.input(2), !context.facts.isConstant(bias) {
            return .cpu("Gemm bias C is not constant (the DPU needs it when it compiles)")
        }
        let transposed = context.int("transB", default: 0) != 0
        return fullyConnected(
            context, inputs: transposed ? weights[1] : weights[0], outputs: transposed ? weights[0] : weights[1])
    }

    @Sendable private static func matMul(_ context: RuleContext) -> Decision {
        guard let input = context.inputShape(0), input.count >= 2 else {
            return .cpu("MatMul of a vector is not supported; the DPU's fully connected layer needs a matrix input")
        }
        guard let weights = context.constant(1)?.shape else {
            return .cpu("MatMul of two computed tensors is not supported; the DPU's fully connected layer needs constant weights")
        }
        guard weights.count == 2 else {
            return .cpu("MatMul with \(weights.count)-D weights is not supported; the DPU's fully connected layer needs a 2-D weight matrix")
        }
        return fullyConnected(context, inputs: weights[0], outputs: weights[1])
    }

    /// A `inputs → outputs` fully connected layer checked as a 1x1 conv.
    private static func fullyConnected(_ context: RuleContext, inputs: Int, outputs: Int) -> Decision {
        guard let limits = context.limits.conv else {
            return .cpu("fully connected layers need the conv engine, which \(context.target.name) lacks")
        }
        let layer = LayerGeometry(inputChannels: inputs, outputChannels: outputs)
        for rule in limits.constraints where !rule.isSatisfied(by: layer) {
            return .cpu("fully connected \(inputs)→\(outputs): " + describeViolation(rule, layer))
        }
        return .dpu("fully connected \(inputs)→\(outputs) as a 1x1 conv on the conv engine", engine: .conv)
    }
}
