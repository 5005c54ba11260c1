import KilnIR
import KilnTargets

extension SupportRules {
    /// Convolutions: `Conv` (conv2d, depthwise conv2d, their 3-D forms) and
    /// `ConvTranspose` (transposed and depthwise transposed conv2d). Weights and bias must
    /// be constants; the window is checked against the target's ``WindowLimits``.
    static let conv: [OpKind: SupportRule] = [
        .conv: convolution,
        .convTranspose: transposedConvolution,
    ]

    @Sendable private static func convolution(_ context: RuleContext) -> Decision {
        guard let input = context.inputShape(0), let weights = context.constant(1)?.shape else {
            return .cpu("Conv weights are not constant (the DPU needs them when it compiles)")
        }
        if let bias = context.input(2), !context.facts.isConstant(bias) {
            return .cpu("Conv bias is not constant (the DPU needs it when it compiles)")
        }
        let spatial = input.count - 2
        guard spatial == 2 || spatial == 3, weights.count == input.count else {
            return .cpu("Conv over \(max(spatial, 0)) spatial axes is not supported; the DPU convolves 2-D (and on some targets 3-D) feature maps")
        }
        let kernel = context.ints("kernel_shape") ?? Array(weights.dropFirst(2))
        guard kernel.count == spatial, let window = WindowGeometry(context, kernel: kernel, input: input) else {
            return .cpu("Conv attributes do not match its rank")
        }
        let group = context.int("group", default: 1)
        let inputChannels = input[1]
        let isDepthwise = group > 1 && group == inputChannels
        if group != 1 && !isDepthwise {
            return .cpu("grouped Conv (group \(group) over \(inputChannels) channels) is not supported; only group 1 or depthwise (group = channels)")
        }
        let (limits, engine, kind): (WindowLimits?, Engine, String) = switch (spatial, isDepthwise) {
        case (2, false): (context.limits.conv, .conv, "Conv")
        case (2, true): (context.limits.depthwiseConv, .depthwiseConv, "depthwise Conv")
        case (_, false): (context.limits.conv3d, .conv3d, "3-D Conv")
        case (_, true): (context.limits.depthwiseConv3d, .depthwiseConv3d, "depthwise 3-D Conv")
        }
        guard let limits else { return .cpu("\(kind) has no engine on \(context.target.name)") }
        let layer = window.layer(inputChannels: inputChannels, outputChannels: weights[0])
        if let problem = window.violation(of: limits, layer: layer) { return .cpu(problem) }
        return .dpu("\(kind) \(window.kernelText)\(strideText(window)) on the \(engine.name)", engine: engine)
    }

    @Sendable private static func transposedConvolution(_ context: RuleContext) -> Decision {
        guard let input = context.inputShape(0), let weights = context.constant(1)?.shape else {
            return .cpu("ConvTranspose weights are not constant (the DPU needs them when it compiles)")
        }
        if let bias = context.input(2), !context.facts.isConstant(bias) {
            return .cpu("ConvTranspose bias is not constant (the DPU needs it when it compiles)")
        }
        guard input.count == 4, weights.count == 4 else {
            return .cpu("ConvTranspose over \(max(input.count - 2, 0)) spatial axes is not supported; the DPU runs 2-D transposed convolutions")
        }
        if let padding = context.ints("output_padding"), padding.contains(where: { $0 != 0 }) {
            return .cpu("ConvTranspose with output_padding \(WindowGeometry.text(padding)) is not supported")
        }
        if let dilations = context.ints("dilations"), dilations.contains(where: { $0 != 1 }) {
            return .cpu("dilated ConvTranspose (dilation \(WindowGeometry.text(dilations))) is not supported")
        }
        let kernel = context.ints("kernel_shape") ?? Array(weights.dropFirst(2))
        guard kernel.count == 2, let window = WindowGeometry(context, kernel: kernel, input: input) else {
            return .cpu("ConvTranspose attributes do not match its rank")
        }
        let group = context.int("group", default: 1)
        let inputChannels = input[1]
        let isDepthwise = group > 1 && group == inputChannels
        if group != 1 && !isDepthwise {
            return .cpu("grouped ConvTranspose (group \(group) over \(inputChannels) channels) is not supported; only group 1 or depthwise")
        }
        let (limits, engine, kind): (WindowLimits?, Engine, String) = isDepthwise
            ? (context.limits.depthwiseTransposedConv, .depthwiseTransposedConv, "depthwise ConvTranspose")
            : (context.limits.transposedConv, .transposedConv, "ConvTranspose")
        guard let limits else { return .cpu("\(kind) has no engine on \(context.target.name)") }
        let layer = window.layer(inputChannels: inputChannels, outputChannels: weights[1] * group)
        if let problem = window.violation(of: limits, layer: layer) { return .cpu(problem) }
        return .dpu("\(kind) \(window.kernelText)\(strideText(window)) on the \(engine.name)", engine: engine)
    }

    /// ` stride 2`, or nothing for stride 1.
    static func strideText(_ window: WindowGeometry) -> String {
        window.strides.allSatisfy { $0 == 1 } ? "" : " stride \(WindowGeometry.text(window.strides))"
    }
}
