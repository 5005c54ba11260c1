import KilnIR
import KilnPasses

/// How the body nodes of a DPU subgraph become operations: one table entry per op family.
extension BodyLowering {
    /// Ops that cost nothing and pass their first input through (folded into the loads
    /// and stores around them; a zero Pad is applied by the next load; a Slice or Split
    /// is a strided load).
    static let freeOps: Set<OpKind> = [
        .reshape, .flatten, .squeeze, .unsqueeze, .identity, .dropout, .pad, .slice, .split,
    ]

    /// Ops that can fold into the operation making their input: activations, and a
    /// per-channel bias, scale or BatchNormalization (those only into a conv or depthwise
    /// conv, whose weights and bias absorb them).
    static let activationOps: Set<OpKind> = [
        .relu, .relu6, .leakyRelu, .clip, .hardSigmoid, .hardSwish, .pRelu, .mul,
    ]
    static let affineOps: Set<OpKind> = [.batchNormalization, .add, .mul]

    /// Lowers node `index`.
    mutating func lower(_ node: Node, index: Int) {
        let outputs = node.outputs.compactMap { $0 }
        if Self.freeOps.contains(node.op) {
            let source = node.input(0).flatMap { origin[$0] } ?? .memory
            for output in outputs { origin[output] = source }
            return
        }
        if node.op == .concat {
            for output in outputs { origin[output] = .memory }
            return
        }
        if let producer = fusionTarget(node, index: index), let output = outputs.first {
            origin[output] = .operation(producer)
            result[producer] = output
            return
        }
        guard let output = outputs.first, let outputShape = shape(output) else {
            unmodelled.append(node.name)
            for output in outputs { origin[output] = .memory }
            return
        }
        let features = featureInputs(node)
        guard let operation = operation(node, features: features, outputShape: outputShape) else {
            unmodelled.append(node.name)
            origin[output] = .memory
            return
        }
        append(operation, reading: features, output: output)
    }

    /// The operation `node` folds into, if it can: its feature inputs all come from one
    /// operation's current result, nothing else reads that result (except other nodes
    /// folding in with it, as `x · HardSigmoid(x)`), and it is not a subgraph output.
    func fusionTarget(_ node: Node, index: Int) -> Int? {
        let isActivation = Self.activationOps.contains(node.op)
        guard isActivation || Self.affineOps.contains(node.op) else { return nil }
        let features = featureInputs(node)
        guard let first = features.first, case .operation(let producer)? = origin[first],
            features.allSatisfy({ origin[$0] == .operation(producer) }),
            features.contains(result[producer])
        else { return nil }
        // A Mul of two feature maps folds only as the tail of x · f(x); with a constant it
        // is a scale, and an Add with a feature map is element-wise.
        if node.op == .add && features.count != 1 { return nil }
        let engine = operations[producer].engine
        let isAffine = !isActivation || (node.op == .mul && features.count == 1)
        if isAffine && ![.conv, .depthwise].contains(engine) { return nil }
        guard [.conv, .depthwise, .pool, .eltwise].contains(engine) else { return nil }
        let siblings = Set(features.flatMap { readers[$0.index] })
        for sibling in siblings where sibling != index {
            let other = body.nodes[sibling]
            guard Self.activationOps.contains(other.op) || Self.affineOps.contains(other.op) else { return nil }
            let inside = Set(features).union(siblings.flatMap { body.nodes[$0].outputs.compactMap { $0 } })
            guard featureInputs(other).allSatisfy(inside.contains) else { return nil }
        }
        guard !features.contains(where: body.outputs.contains) else { return nil }
        return producer
    }

    /// The operation for a node that is neither free nor fused, or `nil` when its shapes
    /// are unknown.
    func operation(_ node: Node, features: [ValueID], outputShape: [Int]) -> DPUOperation? {
        let inputShapes = features.compactMap { shape($0) }
        guard inputShapes.count == features.count else { return nil }
        let output = Self.featureShape(outputShape)
        let inputs = inputShapes.map { FeatureInput(shape: Self.featureShape($0)) }
        let name = node.name
        let op = node.op.displayName
        switch node.op {
        case .conv, .convTranspose:
            return convolution(node, inputs: inputs, output: output)
        case .gemm, .matMul:
            return fullyConnected(node, inputShapes: inputShapes, outputShape: outputShape)
        case .maxPool, .averagePool:
            let kernel = ints(node, "kernel_shape") ?? []
            return DPUOperation(
                name: name, op: op, engine: .pool, inputs: inputs, output: output, kernel: kernel,
                strides: ints(node, "strides") ?? [])
        case .globalAveragePool, .globalMaxPool:
            let kernel = inputShapes.first.map { Array($0.dropFirst(2)) } ?? []
            return DPUOperation(
                name: name, op: op, engine: .pool, inputs: inputs, output: output, kernel: kernel, strides: kernel)
        case .add, .mul, .sum, .batchNormalization:
            if features.count >= 2 {
                return DPUOperation(name: name, op: op, engine: .eltwise, inputs: inputs, output: output)
            }
            // A per-channel bias or scale with nothing to fold into: a depthwise 1×1.
            let constants = node.inputs.compactMap { $0 }.filter(isConstant)
            let bytes = constants.reduce(0) { $0 + (shape($1)?.reduce(1, *) ?? 0) }
            return DPUOperation(
                name: name, op: op, engine: .depthwise, inputs: inputs, output: output, kernel: [1, 1],
                weightBytes: node.op == .batchNormalization ? 2 * output.channels : bytes)
        default:
            // Resize, reorg, channel argmax / max, standalone activations, and any op
            // without a rule of its own: one pass of the ALU over the larger map.
            return DPUOperation(name: name, op: op, engine: .misc, inputs: inputs, output: output)
        }
    }

    /// Conv and ConvTranspose: the conv engine, or the depthwise engine when every group
    /// is one input channel.
    func convolution(_ node: Node, inputs: [FeatureInput], output: FeatureShape) -> DPUOperation? {
        guard let input = inputs.first, let weights = shape(node.input(1)), weights.count >= 2 else { return nil }
        let groups = int(node, "group") ?? 1
        let kernel = Array(weights.dropFirst(2))
        let isTransposed = node.op == .convTranspose
        let inputChannels = input.shape.channels
        let isDepthwise = groups > 1 && groups == inputChannels
        let biasBytes = node.input(2).flatMap(shape)?.reduce(1, *) ?? 0
        return DPUOperation(
            name: node.name, op: node.op.displayName, engine: isDepthwise ? .depthwise : .conv,
            inputs: Array(inputs.prefix(1)), output: output, kernel: kernel, strides: ints(node, "strides") ?? [],
            groups: groups, isTransposed: isTransposed, weightBytes: weights.reduce(1, *) + biasBytes,
            inputChannels: inputChannels)
    }

    /// Gemm and MatMul on the conv engine, as a 1×1 convolution over the rows of the
    /// left operand. A right operand that is a feature map is loaded like one.
    func fullyConnected(_ node: Node, inputShapes: [[Int]], outputShape: [Int]) -> DPUOperation? {
        guard let leftShape = shape(node.input(0)), !leftShape.isEmpty else { return nil }
        let transposed = node.op == .gemm && int(node, "transA") == 1
        let depth = (transposed ? leftShape.first : leftShape.last) ?? 1
        let rows = outputShape.dropLast().reduce(1, *)
        let columns = outputShape.last ?? 1
        let constants = node.inputs.compactMap { $0 }.filter(isConstant)
        let weightBytes = constants.reduce(0) { $0 + (shape($1)?.reduce(1, *) ?? 0) }
        // Channels last: a [.., M, K] operand is M rows of K channels.
        let inputs = inputShapes.map { shape in
            let rows = shape.count >= 2 ? shape.dropLast().reduce(1, *) : 1
            return FeatureInput(shape: FeatureShape(spatial: [rows], channels: shape.last ?? 1))
        }
        return DPUOperation(
            name: node.name, op: node.op.displayName, engine: .conv, inputs: inputs,
            output: FeatureShape(spatial: [rows], channels: columns), kernel: [1], weightBytes: weightBytes,
            inputChannels: depth, macs: rows * columns * depth)
    }

    /// `N×C×…` as the DPU sees it: the batch folded into the first spatial axis; a
    /// rank-2 tensor is rows × channels.
    static func featureShape(_ shape: [Int]) -> FeatureShape {
        switch shape.count {
        case 0: FeatureShape(spatial: [1], channels: 1)
        case 1: FeatureShape(spatial: [1], channels: shape[0])
        case 2: FeatureShape(spatial: [shape[0]], channels: shape[1])
        default: FeatureShape(spatial: [shape[0] * shape[2]] + Array(shape.dropFirst(3)), channels: shape[1])
        }
    }

    private func ints(_ node: Node, _ name: String) -> [Int]? { (try? node.attributes.ints(name)) ?? nil }
    private func int(_ node: Node, _ name: String) -> Int? { (try? node.attributes.int(name)) ?? nil }
}
