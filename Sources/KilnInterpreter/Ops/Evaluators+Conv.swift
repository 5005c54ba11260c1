import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// Evaluators of convolution and pooling (part of the NN family).
    static let convolution: [OpKind: Evaluator] = [
        .conv: evaluateConv,
        .fusedConv: fusedConv(packed: nil),
        .convTranspose: evaluateConvTranspose,
        .maxPool: evaluateMaxPool,
        .averagePool: evaluateAveragePool,
        .globalAveragePool: { node, inputs, context in try evaluateGlobalPool(node, inputs, context, isMax: false) },
        .globalMaxPool: { node, inputs, context in try evaluateGlobalPool(node, inputs, context, isMax: true) },
    ]

    /// The spatial extents of an `N × C × spatial…` tensor.
    private static func spatialShape(_ tensor: Tensor, _ op: String) throws -> [Int] {
        guard tensor.rank >= 3 else {
            throw KilnError(.shapeMismatch, "\(op) input \(tensor.shape) needs rank >= 3 (N, C, spatial…)")
        }
        return Array(tensor.shape.dropFirst(2))
    }

    private static func autoPad(_ attributes: Attributes) throws -> AutoPad {
        let text = try attributes.string("auto_pad", default: "NOTSET")
        guard let value = AutoPad(rawValue: text) else {
            throw KilnError(.unsupportedAttribute, "auto_pad '\(text)' is not supported")
        }
        return value
    }

    /// Geometry and group of a `Conv` or `fusedConv` node on input `x` with weight `w`.
    private static func convGeometry(_ node: Node, _ x: Tensor, _ w: Tensor) throws -> (WindowGeometry, group: Int) {
        try convGeometry(node, input: x.shape, weight: w.shape)
    }

    /// Geometry and group of a `Conv` or `fusedConv` node on an input of shape `input` with
    /// a weight of shape `weight`.
    package static func convGeometry(_ node: Node, input: [Int], weight: [Int]) throws -> (WindowGeometry, group: Int) {
        guard input.count >= 3 else {
            throw KilnError(.shapeMismatch, "Conv input \(input) needs rank >= 3 (N, C, spatial…)")
        }
        let attributes = node.attributes
        let geometry = try WindowGeometry.forward(
            input: Array(input.dropFirst(2)),
            kernel: try attributes.ints("kernel_shape") ?? Array(weight.dropFirst(2)),
            strides: try attributes.ints("strides"), dilations: try attributes.ints("dilations"),
            pads: try attributes.ints("pads"), autoPad: try autoPad(attributes))
        return (geometry, try attributes.int("group", default: 1))
    }

    @Sendable static func evaluateConv(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let x = try context.required(inputs, 0, node)
        let w = try context.required(inputs, 1, node)
        let bias = inputs.count > 2 ? inputs[2] : nil
        let (geometry, group) = try convGeometry(node, x, w)
        let shape = try Convolution.outputShape(input: x.shape, weight: w.shape, bias: bias?.shape, group: group, geometry: geometry)
        var output = context.makeOutput(0, overwriting: shape, dtype: x.dtype)
        try Convolution.conv(input: x, weight: w, bias: bias, group: group, geometry: geometry, output: &output, threads: context.threads)
        return [output]
    }

    /// The evaluator of `fusedConv` (`activation(clamp(conv(X, W, B) + Z))`, float32): with
    /// `packed`, the weights packed once for that node's constant `W` (the runtime's plans
    /// build one per node), otherwise `W` as given. A summand `Z` is copied into the output
    /// first, unless the executor placed the output over `Z` (then it already holds it). The
    /// activation (`silu`, `hard_swish`) runs over the finished output while it is in cache,
    /// with the kernel of the op it replaces (the same bits as unfused).
    package static func fusedConv(packed: Convolution.PackedWeights?) -> Evaluator {
        { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            let w = try context.required(inputs, 1, node)
            let bias = inputs.count > 2 ? inputs[2] : nil
            let summand = inputs.count > 3 ? inputs[3] : nil
            let (geometry, group) = try convGeometry(node, x, w)
            let shape = try Convolution.outputShape(input: x.shape, weight: w.shape, bias: bias?.shape, group: group, geometry: geometry)
            let (lower, upper, gate) = try convEpilogue(node)
            var output = context.makeOutput(0, overwriting: shape, dtype: x.dtype)
            if let summand {
                guard summand.shape == shape, summand.dtype == x.dtype else {
                    throw KilnError(.shapeMismatch, "fusedConv summand \(summand.dtype)\(summand.shape) must be \(x.dtype)\(shape)")
                }
                if output.baseAddress != summand.baseAddress {
                    summand.withUnsafeBytes { source in
                        output.withUnsafeMutableBytes { target in target.copyMemory(from: source) }
                    }
                }
            }
            if let packed, packed.weight.shape == w.shape, packed.group == group {
                try Convolution.conv(
                    input: x, packed: packed, bias: bias, geometry: geometry, output: &output, lower: lower, upper: upper,
                    accumulate: summand != nil, threads: context.threads)
            } else {
                try Convolution.conv(
                    input: x, weight: w, bias: bias, group: group, geometry: geometry, output: &output, lower: lower,
                    upper: upper, accumulate: summand != nil, threads: context.threads)
            }
            if let gate {
                output.withUnsafeMutableBufferPointer(as: Float.self) { y in
                    UnaryKernels.floating(gate, UnsafeBufferPointer(y), y, context.threads)
                }
            }
            return [output]
        }
    }

    /// A `fusedConv`'s clamp bounds and activation; none for a plain `Conv`.
    package static func convEpilogue(_ node: Node) throws -> (lower: Float, upper: Float, gate: UnaryOp?) {
        guard node.op == .fusedConv else { return (-.infinity, .infinity, nil) }
        return (
            try node.attributes.float("activation_min", default: -.infinity),
            try node.attributes.float("activation_max", default: .infinity), try fusedGate(node.attributes)
        )
    }

    /// The `activation` of a `fusedConv`, as the unary op it fused.
    private static func fusedGate(_ attributes: Attributes) throws -> UnaryOp? {
        switch try attributes.string("activation", default: "") {
        case "": return nil
        case "silu": return .silu
        case "hard_swish": return .hardSwish
        case let name: throw KilnError(.unsupportedAttribute, "fusedConv activation '\(name)' is not supported")
        }
    }

    @Sendable static func evaluateConvTranspose(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let x = try context.required(inputs, 0, node)
        let w = try context.required(inputs, 1, node)
        let bias = inputs.count > 2 ? inputs[2] : nil
        let attributes = node.attributes
        let geometry = try WindowGeometry.transposed(
            input: try spatialShape(x, "ConvTranspose"),
            kernel: try attributes.ints("kernel_shape") ?? Array(w.shape.dropFirst(2)),
            strides: try attributes.ints("strides"), dilations: try attributes.ints("dilations"),
            pads: try attributes.ints("pads"), autoPad: try autoPad(attributes),
            outputPadding: try attributes.ints("output_padding"), outputShape: try attributes.ints("output_shape"))
        let group = try attributes.int("group", default: 1)
        let shape = try TransposedConvolution.outputShape(input: x.shape, weight: w.shape, bias: bias?.shape, group: group, geometry: geometry)
        var output = context.makeOutput(0, zeros: shape, dtype: x.dtype)
        try TransposedConvolution.convTranspose(
            input: x, weight: w, bias: bias, group: group, geometry: geometry, output: &output, threads: context.threads)
        return [output]
    }

    private static func poolGeometry(_ node: Node, _ x: Tensor, _ op: String) throws -> WindowGeometry {
        let attributes = node.attributes
        guard let kernel = try attributes.ints("kernel_shape") else {
            throw KilnError(.invalidModel, "kernel_shape is required")
        }
        return try WindowGeometry.forward(
            input: try spatialShape(x, op), kernel: kernel,
            strides: try attributes.ints("strides"), dilations: try attributes.ints("dilations"),
            pads: try attributes.ints("pads"), autoPad: try autoPad(attributes),
            ceilMode: try attributes.int("ceil_mode", default: 0) != 0)
    }

    @Sendable static func evaluateMaxPool(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let x = try context.required(inputs, 0, node)
        let geometry = try poolGeometry(node, x, "MaxPool")
        let shape = Array(x.shape.prefix(2)) + geometry.output
        var output = context.makeOutput(0, zeros: shape, dtype: x.dtype)
        let wantsIndices = node.outputs.count > 1 && node.outputs[1] != nil
        var indices: Tensor? = wantsIndices ? context.makeOutput(1, zeros: shape, dtype: .int64) : nil
        try Pooling.maxPool(
            input: x, geometry: geometry, storageOrder: try node.attributes.int("storage_order", default: 0),
            output: &output, indices: &indices, threads: context.threads)
        return [output, indices]
    }

    @Sendable static func evaluateAveragePool(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let x = try context.required(inputs, 0, node)
        let geometry = try poolGeometry(node, x, "AveragePool")
        var output = context.makeOutput(0, zeros: Array(x.shape.prefix(2)) + geometry.output, dtype: x.dtype)
        try Pooling.averagePool(
            input: x, geometry: geometry, countIncludePad: try node.attributes.int("count_include_pad", default: 0) != 0,
            output: &output, threads: context.threads)
        return [output]
    }

    static func evaluateGlobalPool(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext, isMax: Bool) throws -> [Tensor?] {
        let x = try context.required(inputs, 0, node)
        let spatial = try spatialShape(x, isMax ? "GlobalMaxPool" : "GlobalAveragePool")
        var output = context.makeOutput(0, zeros: Array(x.shape.prefix(2)) + spatial.map { _ in 1 }, dtype: x.dtype)
        try Pooling.globalPool(input: x, isMax: isMax, output: &output)
        return [output]
    }
}
