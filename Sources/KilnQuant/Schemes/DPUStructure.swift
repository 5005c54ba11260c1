import KilnCore
import KilnIR
import KilnPasses

/// What the DPU scheme decides from the graph alone, before calibration: the layers and
/// their fused activations, the tensors to quantize, and which tensors must share a fix
/// position.
struct DPUStructure {
    /// How a constant is quantized.
    enum ConstantRole: Equatable {
        /// A conv / gemm weight.
        case weight
        /// A conv / gemm bias.
        case bias
        /// A constant operand of an element-wise add or mul.
        case operand
    }

    /// Layers in graph order, without shifts.
    private(set) var layers: [LayerQuantization] = []
    /// Activations to quantize (graph inputs and node outputs), in graph order.
    private(set) var activations: [String] = []
    /// Constants to quantize, by name.
    private(set) var constants: [String: ConstantRole] = [:]
    /// Activations the caller or a CPU node produces: the DPU reads them as inputs and they
    /// are rounded as inputs are.
    private(set) var inputs: Set<String> = []
    /// Activations that share one fix position.
    private(set) var groups = PositionGroups()
    /// The DPU's LeakyReLU nodes (index in the graph) with their slopes.
    private(set) var leakyRelus: [(node: Int, alpha: Float)] = []
    /// The value names of ReLU6 results (their fix position must be ≥ 4, see `docs/dpu-arithmetic.md`).
    private(set) var relu6Outputs: [String] = []
    /// Nodes that run on the DPU, by index.
    private(set) var dpuNodes: Set<Int> = []

    /// Nodes the partitioner put on the DPU that have no integer pipeline here: they stay
    /// float (a warning for the report).
    private(set) var unquantizable: [String] = []

    /// Analyses a canonical graph.
    ///
    /// - Parameters:
    ///   - graph: the canonical graph.
    ///   - placements: the partitioner's final placement of each node for the target, or
    ///     `nil` without a target (then every node the DPU can compute is a DPU node).
    init(_ graph: Graph, placements: [Placement]? = nil) {
        let view = RewriteView(graph)
        let roles = graph.nodes.enumerated().map { index, node -> DPURole? in
            guard placements.map({ $0[index].isDPU }) ?? true else { return nil }
            return DPUSupport.role(of: node, in: view)
        }
        if let placements {
            for (index, node) in graph.nodes.enumerated() where placements[index].isDPU && roles[index] == nil {
                unquantizable.append(node.name.isEmpty ? node.op.rawValue : node.name)
            }
        }
        let producers = graph.producers()
        let consumers = graph.consumers()
        // Activations fused into the conv / gemm / add that produces their input.
        var fusedActivation: [Int: Int] = [:]
        var isFused = Set<Int>()
        for (index, node) in graph.nodes.enumerated() {
            guard case .layer(let kind)? = roles[index], [.conv, .gemm, .add].contains(kind),
                let output = view.singleOutput(node), !view.isGraphOutput(output), !view.isCaptured(output),
                consumers[output.index].count == 1, let reader = consumers[output.index].first,
                case .activation? = roles[reader.index]
            else { continue }
            fusedActivation[index] = reader.index
            isFused.insert(reader.index)
        }
        var seen = Set<String>()
        func addActivation(_ id: ValueID) {
            let name = graph[id].name
            groups.add(name)
            guard seen.insert(name).inserted else { return }
            activations.append(name)
            if producers[id.index].map({ roles[$0.index] == nil }) ?? true { inputs.insert(name) }
        }
        for (index, node) in graph.nodes.enumerated() {
            guard let role = roles[index], !isFused.contains(index) else { continue }
            dpuNodes.insert(index)
            let data = DPUSupport.dataInputs(of: node, role: role)
            for id in data {
                if view.constant(id) != nil { constants[graph[id].name] = .operand } else { addActivation(id) }
            }
            let activationNode = fusedActivation[index]
            if let activationNode { dpuNodes.insert(activationNode) }
            let results = (activationNode.map { graph.nodes[$0] } ?? node).outputs.compactMap { $0 }
                .filter { DPUSupport.isFloat32($0, view) }
            guard let output = results.first else { continue }
            results.forEach(addActivation)
            let outputName = graph[output].name
            switch role {
            case .passThrough:
                // Every result (a split has several) holds input values unchanged.
                if let first = data.first {
                    for result in results { groups.union(graph[first].name, graph[result].name) }
                }
            case .concat:
                for id in data { groups.union(graph[id].name, outputName) }
            case .layer(.averagePool):
                // The DPU pools without rescaling: input and output share a position (Vitis AI `align_pool`).
                if let first = data.first { groups.union(graph[first].name, outputName) }
            default:
                break
            }
            let activation: LayerQuantization.Activation?
            switch role {
            case .activation(let kind): activation = kind
            default:
                activation = activationNode.flatMap { roles[$0] }.flatMap { role in
                    if case .activation(let kind) = role { return kind }
                    return nil
                }
            }
            if activation == .relu6 { relu6Outputs.append(outputName) }
            for candidate in [index] + (activationNode.map { [$0] } ?? []) where graph.nodes[candidate].op == .leakyRelu
            {
                let alpha = (try? graph.nodes[candidate].attributes.float("alpha", default: 0.01)) ?? 0.01
                leakyRelus.append((candidate, alpha))
            }
            let kind: LayerQuantization.Kind
            switch role {
            case .layer(let layerKind): kind = layerKind
            case .activation: kind = .activation
            case .passThrough, .concat: continue
            }
            var layer = LayerQuantization(
                name: node.name.isEmpty ? outputName : node.name, kind: kind,
                nodes: [node.name] + (activationNode.map { [graph.nodes[$0].name] } ?? []),
                inputs: data.map { graph[$0].name }, output: outputName, activation: activation)
            if kind == .conv || kind == .gemm {
                if let weight = node.input(1) {
                    layer.weight = graph[weight].name
                    constants[graph[weight].name] = .weight
                }
                if let bias = node.input(2) {
                    layer.bias = graph[bias].name
                    constants[graph[bias].name] = .bias
                }
            }
            if kind == .averagePool, let kernel = DPUSupport.averagePoolKernel(node, view) {
                let (multiplier, shift) = FixedPoint.averagePoolMultiplier(
                    kernelHeight: kernel.height, kernelWidth: kernel.width)
                layer.shifts = ["avgpool_multiplier": multiplier, "avgpool_shift": shift]
            }
            layers.append(layer)
        }
    }
}

/// Values that must share one fix position (union–find by value name).
struct PositionGroups: Sendable {
    private var parent: [String: String] = [:]

    /// Adds a value as its own group (no effect if present).
    mutating func add(_ name: String) {
        if parent[name] == nil { parent[name] = name }
    }

    /// Puts `a` and `b` in one group.
    mutating func union(_ a: String, _ b: String) {
        add(a)
        add(b)
        let (rootA, rootB) = (root(a), root(b))
        if rootA != rootB { parent[max(rootA, rootB)] = min(rootA, rootB) }
    }

    /// The group's representative.
    func root(_ name: String) -> String {
        var current = name
        while let next = parent[current], next != current { current = next }
        return current
    }

    /// Every group, by representative, members sorted.
    var members: [String: [String]] {
        var result: [String: [String]] = [:]
        for name in parent.keys { result[root(name), default: []].append(name) }
        return result.mapValues { $0.sorted() }
    }
}
