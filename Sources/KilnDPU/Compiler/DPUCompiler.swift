import Foundation
import KilnCore
import KilnIR
import KilnQuant
import KilnTargets

/// Compiles a quantized DPU subgraph to a ``DPUProgram`` for one DPU configuration.
///
/// Each layer of the plan (``KilnQuant/LayerQuantization``) that the subgraph holds becomes
/// one ``DPULayer`` with its weights packed for the engine and its shifts resolved; the
/// data-movement nodes around them (reshapes, concat, max pool, slices, nearest resize)
/// become MISC / POOL layers. The layers are then tiled to the architecture's banks
/// (output rows × output-channel blocks) into LOAD / compute / SAVE instructions, each
/// with its cycles from ``DPUCostModel``. `docs/dpu-program.md` has the details.
///
/// ```swift
/// let partitioned = try partition(model.graph, annotation: annotate(model.graph, for: arch))
/// for node in partitioned.graph.nodes where node.op == .dpuSubgraph {
///     let body = try node.attributes.graph("body")!
///     let program = try DPUCompiler.compile(subgraph: body, plan: model.plan, architecture: arch)
/// }
/// ```
public enum DPUCompiler {
    /// Compiles the body of a `dpu_subgraph` node.
    ///
    /// - Parameters:
    ///   - subgraph: the body graph (values carry the outer graph's names; static shapes).
    ///   - plan: the power-of-two quantization plan of the model the subgraph comes from.
    ///   - architecture: the DPU configuration.
    /// - Throws: `dpuNoFixPosition` (a value without a plan entry), `dpuUnsupportedNode`
    ///   (a node without an integer pipeline, a dynamic shape, an unsupported form),
    ///   `dpuTileTooLarge` (a tile that cannot fit the banks); each names the node.
    public static func compile(subgraph: Graph, plan: QuantizationPlan, architecture: DPUArchitecture) throws
        -> DPUProgram
    {
        try compile(subgraph: subgraph, plan: plan, architecture: architecture, geometry: nil)
    }

    /// ``compile(subgraph:plan:architecture:)`` with the tiling figures replaced (tests use
    /// small banks to force many tiles).
    static func compile(subgraph: Graph, plan: QuantizationPlan, architecture: DPUArchitecture, geometry: DPUGeometry?)
        throws -> DPUProgram
    {
        var compiler = CompilerState(body: subgraph, plan: plan, architecture: architecture)
        if let geometry { compiler.program.geometry = geometry }
        try compiler.run()
        return compiler.program
    }
}

/// The compiler's working state: the program being built and the buffer of each value.
struct CompilerState {
    let body: Graph
    let plan: QuantizationPlan
    let architecture: DPUArchitecture
    let costModel: DPUCostModel?
    var program: DPUProgram
    var bufferOf: [ValueID: Int] = [:]

    init(body: Graph, plan: QuantizationPlan, architecture: DPUArchitecture) {
        self.body = body
        self.plan = plan
        self.architecture = architecture
        costModel = DPUCostModel(architecture: architecture, board: nil)
        program = DPUProgram(
            version: DPUProgram.currentVersion, target: architecture.name, fingerprint: architecture.fingerprint,
            name: body.name, geometry: Self.geometry(architecture), buffers: [], inputs: [], outputs: [], layers: [],
            instructions: [], blob: [])
    }

    /// Tiling figures of `architecture`; fallbacks where a figure is not public (ICP 16,
    /// OCP = ICP, PP 1, banks as DPUCostModel sizes them, else 1 MiB).
    static func geometry(_ architecture: DPUArchitecture) -> DPUGeometry {
        let icp = architecture.inputChannelParallelism ?? 16
        let ocp = architecture.outputChannelParallelism ?? icp
        let memory = architecture.onChipMemory
        let feature: Int
        if let kib = memory.imageKiB {
            feature = kib * 1024 / max(1, memory.imageBankGroups ?? 1)
        } else if let depth = memory.bankDepth {
            feature = depth * max(1, memory.imageBanks ?? 1) * icp
        } else {
            feature = 1 << 20
        }
        let weight = memory.convWeightKiB.map { $0 * 1024 } ?? memory.bankDepth.map { $0 * icp * ocp } ?? (1 << 20)
        let depthwise = memory.depthwiseWeightBiasKiB.map { $0 * 1024 } ?? weight
        return DPUGeometry(
            pixelParallelism: architecture.pixelParallelism ?? 1, inputChannelParallelism: icp,
            outputChannelParallelism: ocp, featureBankBytes: feature, weightBankBytes: weight,
            depthwiseBankBytes: depthwise)
    }

    /// Lowers every node, then tiles.
    mutating func run() throws {
        let producers = body.producers()
        // The main node of each plan layer the subgraph computes, and the activations fused into them.
        var layerOf: [Int: LayerQuantization] = [:]
        var fused = Set<Int>()
        for layer in plan.layers {
            guard let output = body.valueID(named: layer.output), let producer = producers[output.index] else {
                continue
            }
            var main = producer.index
            if layer.nodes.count > 1 {
                guard let source = body.nodes[main].input(0), let inner = producers[source.index] else { continue }
                fused.insert(main)
                main = inner.index
            }
            layerOf[main] = layer
        }
        // Refuse nodes without an integer pipeline first: they are why values lack positions.
        for (index, node) in body.nodes.enumerated() where !fused.contains(index) && layerOf[index] == nil {
            guard Self.dataMovementOps.contains(node.op) else {
                throw KilnError(
                    .dpuUnsupportedNode,
                    "\(label(node)): no integer pipeline on the DPU (the plan has no layer for it; the quantizer simulates it in float)"
                )
            }
        }
        let consumers = body.consumers()
        for id in body.inputs where body.initializers[id] == nil {
            let reader = consumers[id.index].first.map { label(body.nodes[$0.index]) } ?? "subgraph input"
            program.inputs.append(try buffer(for: id, node: reader))
        }
        for (index, node) in body.nodes.enumerated() where !fused.contains(index) {
            if let layer = layerOf[index] {
                try lowerLayer(node, layer)
            } else {
                try lowerDataMovement(node)
            }
        }
        for id in body.outputs {
            guard let buffer = bufferOf[id] else {
                throw KilnError(
                    .dpuUnsupportedNode, "subgraph output '\(body[id].name)' is not computed by the subgraph")
            }
            program.outputs.append(buffer)
        }
        try tile()
    }

    // MARK: Values

    /// The ops lowered as data movement when the plan has no layer for them.
    static let dataMovementOps: Set<OpKind> = [
        .concat, .reshape, .flatten, .squeeze, .unsqueeze, .identity, .transpose, .maxPool, .globalMaxPool, .slice,
        .split, .pad, .resize,
    ]

    /// A node label for messages: `[Conv] node 'conv1'`.
    func label(_ node: Node) -> String { "[\(node.op.rawValue)] node '\(node.name)'" }

    /// The fix position of `name`, or `dpuNoFixPosition` naming `node`.
    func position(_ name: String, _ node: String) throws -> Int {
        guard let position = plan.tensors[name]?.fixPosition else {
            throw KilnError(.dpuNoFixPosition, "\(node): value '\(name)' has no fix position in the plan")
        }
        return position
    }

    /// The static shape of `id`, or `dpuUnsupportedNode`.
    func shape(_ id: ValueID, _ node: String) throws -> [Int] {
        guard let shape = body[id].type.staticShape else {
            throw KilnError(.dpuUnsupportedNode, "\(node): value '\(body[id].name)' has no static shape")
        }
        return shape
    }

    /// The buffer holding `id`, made on first use (a constant operand is quantized into the blob).
    mutating func buffer(for id: ValueID, node: String) throws -> Int {
        if let existing = bufferOf[id] { return existing }
        let name = body[id].name
        let quantization = plan.tensors[name]
        guard let position = quantization?.fixPosition else {
            throw KilnError(.dpuNoFixPosition, "\(node): value '\(name)' has no fix position in the plan")
        }
        let constant = body.initializers[id]
        var buffer = DPUBuffer(
            name: name, shape: try constant?.shape ?? shape(id, node), fixPosition: position,
            roundMode: quantization?.roundMode ?? .halfUp, constant: nil)
        if let constant, let quantization {
            let values = Self.quantized(constant, quantization)
            buffer.constant = append(Self.stored(values, shape: constant.shape))
        }
        program.buffers.append(buffer)
        bufferOf[id] = program.buffers.count - 1
        return program.buffers.count - 1
    }

    /// Appends int8 values to the blob.
    mutating func append(_ values: [Int]) -> DPUBlobRange {
        let range = DPUBlobRange(offset: program.blob.count, count: values.count)
        program.blob.append(contentsOf: values.map { Int8(clamping: $0) })
        return range
    }

    /// The integers of a constant, quantized with its plan entry (as QuantSim does).
    static func quantized(_ tensor: Tensor, _ quantization: TensorQuantization) -> [Int] {
        let position = quantization.fixPosition ?? 0
        return tensor.doubleScalars().map {
            FixedPoint.quantize(
                Float($0), fixPosition: position, mode: quantization.roundMode, range: quantization.integerRange)
        }
    }

    /// Values in graph order laid out as a buffer of `shape` stores them (NHWC for rank 4).
    static func stored(_ values: [Int], shape: [Int]) -> [Int] {
        guard shape.count == 4 else { return values }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        var result = [Int](repeating: 0, count: values.count)
        for b in 0..<n {
            for y in 0..<h {
                for x in 0..<w {
                    for ch in 0..<c { result[((b * h + y) * w + x) * c + ch] = values[((b * c + ch) * h + y) * w + x] }
                }
            }
        }
        return result
    }

    /// Appends a layer.
    mutating func addLayer(_ node: Node, inputs: [Int], output: Int, _ operation: DPULayerOperation) {
        program.layers.append(
            DPULayer(name: node.name, op: node.op.rawValue, inputs: inputs, output: output, operation: operation))
    }
}
