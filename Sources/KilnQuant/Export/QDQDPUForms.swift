import Foundation
import KilnCore
import KilnIR

/// The closest standard-ONNX forms of DPU arithmetic that plain QDQ cannot state
/// (`docs/onnx-export.md`), and the rounding shifts that let ties round up as on the DPU.
///
/// | DPU | exported as |
/// | --- | --- |
/// | LeakyReLU slope 26/256 | `LeakyRelu(alpha: 0.1015625)` |
/// | average pool: window sum · m / 2^s, padding counted | `AveragePool(count_include_pad: 1)` then `Mul(n · m / 2^s)` |
/// | hard-sigmoid: relu6(x + 3) · 2731 / 2^14 | `Clip(x + 3, 0, 6) · (2731 / 16384)` |
/// | hard-swish: x · hsigmoid(x), inner value at fix position 7 | the hard-sigmoid form, `Q/DQ` at 2^-7, `Mul` by x |
/// | ReLU6 clamps at 96 when the output position p ≤ 4 | `Clip(x, 0, 96 · 2^-p)` (6 at p = 4) |
///
/// These rewrites apply to the nodes the DPU computes: the nodes of the plan's DPU layers;
/// for a power-of-two plan without layers (hand-made), every such node of an unpartitioned
/// graph, or those inside `dpu_subgraph` nodes. A float plan keeps the model's own arithmetic.
enum QDQDPUForms {
    /// The ops whose DPU arithmetic differs from ONNX's.
    static let rewrittenOps: Set<OpKind> = [
        .leakyRelu, .averagePool, .globalAveragePool, .hardSigmoid, .hardSwish, .relu6,
    ]

    /// Names of the nodes to rewrite.
    static func dpuNodes(_ graph: Graph, isFromSubgraph: [Bool], plan: QuantizationPlan) -> Set<String> {
        guard plan.scale == .pow2 else { return [] }
        if !plan.layers.isEmpty {
            // The plan says which nodes the DPU computes.
            let layerNodes = Set(plan.layers.flatMap(\.nodes))
            return Set(graph.nodes.filter { rewrittenOps.contains($0.op) && layerNodes.contains($0.name) }.map(\.name))
        }
        let partitioned = isFromSubgraph.contains(true)
        var names: Set<String> = []
        for (index, node) in graph.nodes.enumerated()
        where rewrittenOps.contains(node.op) && (!partitioned || isFromSubgraph[index]) {
            names.insert(node.name)
        }
        return names
    }

    /// For each DPU layer's output (by value name), the fraction bits `k` of its exact result
    /// in units of the output's step: the DPU rounds `total · 2^-k` half up. A tie is then
    /// exactly `n + 1/2`, and adding `2^-(k+1)` steps before `QuantizeLinear` (which rounds
    /// half to even) sends it up without moving any other value across a boundary.
    static func roundingShifts(_ graph: Graph, plan: QuantizationPlan) -> [String: Int] {
        guard plan.scale == .pow2 else { return [:] }
        let nodes = Dictionary(graph.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func position(_ name: String?) -> Int? { name.flatMap { plan.tensors[$0]?.fixPosition } }
        var shifts: [String: Int] = [:]
        for layer in plan.layers {
            guard let output = position(layer.output) else { continue }
            let inputs = layer.inputs.compactMap { position($0) }
            guard inputs.count == layer.inputs.count, let input = inputs.first else { continue }
            var shift: Int
            switch layer.kind {
            case .conv, .gemm:
                guard let weight = position(layer.weight) else { continue }
                shift = input + weight - output + 1  // (2·acc + aligned bias) · 2^-(shift_cut + 1)
            case .add: shift = (inputs.max() ?? input) - output
            case .mul: shift = inputs.reduce(0, +) - output
            case .averagePool:
                guard let node = layer.nodes.first.flatMap({ nodes[$0] }), let kernel = poolKernel(node, graph) else {
                    continue
                }
                shift =
                    FixedPoint.averagePoolMultiplier(kernelHeight: kernel.0, kernelWidth: kernel.1).shift + input
                    - output
            case .hardSigmoid: shift = FixedPoint.hardSigmoidMultiplier.shift + input - output
            case .hardSwish: shift = input + FixedPoint.hardSwishGatePosition - output
            case .activation: shift = input - output
            }
            if layer.activation == .leakyRelu { shift += FixedPoint.leakyReluSlope.shift }
            if shift > 0 { shifts[layer.output] = shift }
        }
        return shifts
    }

    /// The 2-D window of an average pool (the input's spatial size for a global one).
    static func poolKernel(_ node: Node, _ graph: Graph) -> (Int, Int)? {
        if node.op == .globalAveragePool {
            guard let x = node.input(0), let shape = graph[x].type.staticShape, shape.count == 4 else { return nil }
            return (shape[2], shape[3])
        }
        guard let kernel = (try? node.attributes.ints("kernel_shape")) ?? nil, kernel.count == 2 else { return nil }
        return (kernel[0], kernel[1])
    }

    /// The nodes that compute `node` the DPU's way.
    static func rewrite(_ node: Node, in builder: inout QDQBuilder) throws -> [Node] {
        switch node.op {
        case .leakyRelu:
            var copy = node
            copy.attributes["alpha"] = .float(FixedPoint.leakyReluSlopeValue)
            return [copy]
        case .averagePool, .globalAveragePool:
            return try averagePool(node, &builder)
        case .hardSigmoid:
            guard let x = node.input(0), let y = node.outputs.first ?? nil else { return [node] }
            return hardSigmoid(x, into: y, name: node.name, &builder)
        case .hardSwish:
            return try hardSwish(node, &builder)
        case .relu6:
            return relu6(node, &builder)
        default:
            return [node]
        }
    }

    /// `AveragePool(x)` (the mean of each window) times `n · m / 2^s`: the DPU's window sum
    /// times its multiplier.
    private static func averagePool(_ node: Node, _ builder: inout QDQBuilder) throws -> [Node] {
        guard node.input(0) != nil, let y = node.outputs.first ?? nil else { return [node] }
        guard let kernel = poolKernel(node, builder.graph) else { return [node] }
        let (multiplier, shift) = FixedPoint.averagePoolMultiplier(kernelHeight: kernel.0, kernelWidth: kernel.1)
        let count = kernel.0 * kernel.1
        let factor = Float(count * multiplier) / Float(1 << shift)
        guard factor != 1 else { return [node] }
        let mean = builder.addValue("\(builder.graph[y].name)_window_mean", like: y)
        var pool = node
        pool.outputs = [mean]
        if node.op == .averagePool { pool.attributes["count_include_pad"] = .int(1) }
        let constant = builder.addConstant(Tensor(scalar: factor), name: "\(node.name)_dpu_multiplier")
        let scale = Node(name: "\(node.name)_dpu_multiplier", op: .mul, inputs: [mean, constant], outputs: [y])
        return [pool, scale]
    }

    /// ReLU6 whose output sits at a fix position ≤ 3: the DPU clamps at 96 units, not 6.
    private static func relu6(_ node: Node, _ builder: inout QDQBuilder) -> [Node] {
        guard let x = node.input(0), let y = node.outputs.first ?? nil,
            let position = builder.quantization(of: y)?.fixPosition, position < 4
        else { return [node] }
        let zero = builder.addConstant(Tensor(scalar: Float(0)), name: "\(node.name)_zero")
        let ceiling = builder.addConstant(
            Tensor(scalar: Float(96) * exp2f(Float(-position))), name: "\(node.name)_dpu_ceiling")
        return [Node(name: node.name, op: .clip, inputs: [x, zero, ceiling], outputs: [y])]
    }

    /// `Clip(x + 3, 0, 6) · 2731 / 2^14` into `y`.
    private static func hardSigmoid(_ x: ValueID, into y: ValueID, name: String, _ builder: inout QDQBuilder) -> [Node]
    {
        let shifted = builder.addValue("\(name)_plus_3", like: x)
        let clipped = builder.addValue("\(name)_relu6", like: x)
        let three = builder.addConstant(Tensor(scalar: Float(3)), name: "\(name)_three")
        let zero = builder.addConstant(Tensor(scalar: Float(0)), name: "\(name)_zero")
        let six = builder.addConstant(Tensor(scalar: Float(6)), name: "\(name)_six")
        let (numerator, shift) = FixedPoint.hardSigmoidMultiplier
        let multiplier = builder.addConstant(
            Tensor(scalar: Float(numerator) / Float(1 << shift)), name: "\(name)_dpu_multiplier")
        return [
            Node(name: "\(name)_plus_3", op: .add, inputs: [x, three], outputs: [shifted]),
            Node(name: "\(name)_relu6", op: .clip, inputs: [shifted, zero, six], outputs: [clipped]),
            Node(name: name, op: .mul, inputs: [clipped, multiplier], outputs: [y]),
        ]
    }

    /// `x · hsigmoid(x)` with the inner hard-sigmoid quantized at fix position 7.
    private static func hardSwish(_ node: Node, _ builder: inout QDQBuilder) throws -> [Node] {
        guard let x = node.input(0), let y = node.outputs.first ?? nil else { return [node] }
        let gate = builder.addValue("\(builder.graph[y].name)_hard_sigmoid", like: y)
        let gatePosition = FixedPoint.hardSwishGatePosition
        builder.extraQuantizations[gate] = .fixPosition(gatePosition, roundMode: .halfUp)
        if let input = builder.quantization(of: x)?.fixPosition {
            builder.roundingShifts[builder.graph[gate].name] =
                FixedPoint.hardSigmoidMultiplier.shift + input - gatePosition
        }
        var nodes = hardSigmoid(x, into: gate, name: "\(node.name)_hard_sigmoid", &builder)
        nodes.append(Node(name: node.name, op: .mul, inputs: [x, gate], outputs: [y]))
        return nodes
    }
}
