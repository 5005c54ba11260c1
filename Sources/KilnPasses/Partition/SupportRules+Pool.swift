import KilnIR
import KilnTargets

extension SupportRules {
    /// Pooling: 2-D max and average pooling, and their global forms (a pool whose kernel
    /// is the whole feature map), on the pooling engine.
    static let pool: [OpKind: SupportRule] = [
        .maxPool: { windowed($0, limits: $0.limits.maxPool, engine: .maxPool) },
        .averagePool: { windowed($0, limits: $0.limits.averagePool, engine: .averagePool) },
        .globalMaxPool: { global($0, limits: $0.limits.maxPool, engine: .maxPool) },
        .globalAveragePool: { global($0, limits: $0.limits.averagePool, engine: .averagePool) },
    ]

    private static func windowed(_ context: RuleContext, limits: WindowLimits?, engine: Engine) -> Decision {
        let name = context.node.op.displayName
        guard let limits else { return .cpu("\(name) has no engine on \(context.target.name)") }
        guard let input = context.inputShape(0), input.count == 4 else {
            return .cpu("\(name) over \(max(context.inputType(0).shape?.count ?? 2, 2) - 2) spatial axes is not supported; the DPU pools 2-D feature maps")
        }
        if context.node.outputs.count > 1, context.node.outputs[1] != nil {
            return .cpu("\(name) with an indices output is not supported")
        }
        if let dilations = context.ints("dilations"), dilations.contains(where: { $0 != 1 }) {
            return .cpu("dilated \(name) (dilation \(WindowGeometry.text(dilations))) is not supported")
        }
        guard let kernel = context.ints("kernel_shape"), kernel.count == 2,
            let window = WindowGeometry(context, kernel: kernel, input: input)
        else {
            return .cpu("\(name) attributes do not match its rank")
        }
        let layer = window.layer(inputChannels: input[1], outputChannels: input[1])
        if let problem = window.violation(of: limits, layer: layer) { return .cpu(problem) }
        return .dpu("\(name) \(window.kernelText)\(strideText(window)) on the \(engine.name)", engine: engine)
    }

    private static func global(_ context: RuleContext, limits: WindowLimits?, engine: Engine) -> Decision {
        let name = context.node.op.displayName
        guard let limits else { return .cpu("\(name) has no engine on \(context.target.name)") }
        guard let input = context.inputShape(0), input.count == 4 else {
            return .cpu("\(name) over \(max(context.inputType(0).shape?.count ?? 2, 2) - 2) spatial axes is not supported; the DPU pools 2-D feature maps")
        }
        let kernel = Array(input[2...])
        guard let window = WindowGeometry(context, kernel: kernel, input: input) else {
            return .cpu("\(name) attributes do not match its rank")
        }
        let layer = window.layer(inputChannels: input[1], outputChannels: input[1])
        if let problem = window.violation(of: limits, layer: layer) { return .cpu(problem) }
        return .dpu("\(name) \(window.kernelText) on the \(engine.name)", engine: engine)
    }
}
