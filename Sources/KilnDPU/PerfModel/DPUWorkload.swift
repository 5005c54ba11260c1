import KilnIR

/// The DPU work of one `dpu_subgraph`: its layers as ``DPUOperation``s, in order.
public struct SubgraphWorkload: Sendable, Hashable {
    /// The subgraph's `id` attribute.
    public var id: Int
    /// The `dpu_subgraph` node's name.
    public var name: String
    /// The layers, in the body's topological order.
    public var operations: [DPUOperation]
    /// The tensors flowing in, by name.
    public var inputs: [String]
    /// The tensors it returns, by name.
    public var outputs: [String]
    /// Body nodes whose shapes are not static, so they have no operation (names).
    public var unmodelledNodes: [String]

    /// Creates a workload (``DPUWorkload/build(from:)`` derives them from a graph; the DPU
    /// compiler and tests build them directly).
    public init(
        id: Int, name: String, operations: [DPUOperation], inputs: [String] = [], outputs: [String] = [],
        unmodelledNodes: [String] = []
    ) {
        self.id = id
        self.name = name
        self.operations = operations
        self.inputs = inputs
        self.outputs = outputs
        self.unmodelledNodes = unmodelledNodes
    }

    /// Multiply-accumulates of every operation.
    public var macs: Int { operations.reduce(0) { $0 + $1.macs } }

    /// Workload in GOP (a MAC counts 2 ops), as vaitrace's `WL` column.
    public var gop: Double { Double(2 * macs) / 1e9 }
}

/// Derives the DPU workload of a partitioned graph from the layers of its DPU subgraphs.
///
/// Each body node becomes one of three things:
/// - **an operation** on an engine: Conv (depthwise when `group` equals the channels),
///   ConvTranspose, Gemm and MatMul (the conv engine), pools, element-wise Add / Mul / Sum of
///   feature maps, unfolded BatchNormalization and per-channel bias or scale (depthwise
///   1×1), Resize, reorg, channel ArgMax / ReduceMax and standalone activations (misc);
/// - **fused** into the operation that makes its input: an activation, a folded bias,
///   scale or BatchNormalization, the `x · HardSigmoid(x)` tail — when that input feeds
///   nothing else;
/// - **free**: reshapes, flatten, identity and dropout (folded into loads and stores), zero
///   Pad (applied by the next load), Slice and Split (strided loads), Concat (its producers
///   store into the concatenated buffer at channel offsets).
///
/// Every operation loads its inputs from DDR and stores its output, except where the
/// output of a conv-engine or depthwise operation is read only by a pool or element-wise
/// operation: the two run back to back on the banks (the fusion Vitis AI's compiler makes
/// for conv + pool and conv + add; the UG1414 vaitrace example's `conv1` subgraph stores
/// only the pool's output). An element-wise operation takes at most one input that way,
/// the one computed last.
///
/// ```swift
/// let inspection = try InspectPipeline.inspect(graph, target: b4096)
/// let workloads = DPUWorkload.build(from: inspection.partition.graph)
/// workloads[0].gop  // 8.18 for ResNet-50
/// ```
public enum DPUWorkload {
    /// The workload of every `dpu_subgraph` node of `graph`, in graph order.
    ///
    /// - Parameter graph: A partitioned graph (``KilnPasses/partition(_:annotation:options:)``),
    ///   whose bodies carry inferred static shapes.
    public static func build(from graph: Graph) -> [SubgraphWorkload] {
        graph.nodes.compactMap { node in
            guard node.op == .dpuSubgraph, let body = try? node.attributes.graph("body") else { return nil }
            let id = (try? node.attributes.int("id")) ?? nil
            var lowering = BodyLowering(body)
            lowering.run()
            return SubgraphWorkload(
                id: id ?? 0, name: node.name, operations: lowering.operations,
                inputs: body.inputs.map { body[$0].name }, outputs: body.outputs.map { body[$0].name },
                unmodelledNodes: lowering.unmodelled)
        }
    }
}

/// Where a value of a body comes from, after free nodes and fused nodes are seen through.
enum ValueOrigin: Hashable {
    /// DDR: a subgraph input, or a buffer several operations wrote (a concat).
    case memory
    /// The result of operation `index`.
    case operation(Int)
}

/// Lowers one body graph, node by node, into operations (see ``DPUWorkload``).
struct BodyLowering {
    let body: Graph
    /// Node indices reading each value.
    let readers: [[Int]]
    /// The operations so far.
    var operations: [DPUOperation] = []
    /// Nodes that have no static shapes.
    var unmodelled: [String] = []
    /// Each value's origin, once its producer is lowered.
    var origin: [ValueID: ValueOrigin] = [:]
    /// For each operation, the value holding its current result (after fused nodes).
    var result: [ValueID] = []
    /// For each operation, the origin of each of its feature inputs.
    var inputOrigins: [[ValueOrigin]] = []

    init(_ body: Graph) {
        self.body = body
        var readers = [[Int]](repeating: [], count: body.values.count)
        for (index, node) in body.nodes.enumerated() {
            for case let input? in node.inputs { readers[input.index].append(index) }
        }
        self.readers = readers
    }

    /// Lowers every node, then decides which results stay on chip.
    mutating func run() {
        for input in body.inputs { origin[input] = .memory }
        for (index, node) in body.nodes.enumerated() {
            lower(node, index: index)
        }
        keepResultsOnChip()
    }

    /// Whether `value` is a weight (an initializer of the body).
    func isConstant(_ value: ValueID) -> Bool { body.initializers[value] != nil }

    /// The node's inputs that are feature maps (not constants).
    func featureInputs(_ node: Node) -> [ValueID] {
        node.inputs.compactMap { $0 }.filter { !isConstant($0) }
    }

    /// The static shape of `value`.
    func shape(_ value: ValueID?) -> [Int]? { value.flatMap { body[$0].type.staticShape } }

    /// Appends `operation`, reading `inputs`, with its result in `output`.
    mutating func append(_ operation: DPUOperation, reading inputs: [ValueID], output: ValueID) {
        origin[output] = .operation(operations.count)
        inputOrigins.append(inputs.prefix(operation.inputs.count).map { origin[$0] ?? .memory })
        result.append(output)
        operations.append(operation)
    }

    /// After lowering: a conv or depthwise result read only by one pool or element-wise
    /// operation (and not a subgraph output) stays in the banks.
    mutating func keepResultsOnChip() {
        var readerOps = [[Int]](repeating: [], count: operations.count)
        for (consumer, origins) in inputOrigins.enumerated() {
            for case .operation(let producer) in origins { readerOps[producer].append(consumer) }
        }
        var isOutput = [Bool](repeating: false, count: operations.count)
        for output in body.outputs {
            if case .operation(let producer)? = origin[output] { isOutput[producer] = true }
        }
        for (consumer, origins) in inputOrigins.enumerated()
        where [.pool, .eltwise].contains(operations[consumer].engine) {
            let candidates = origins.indices.filter { slot in
                guard case .operation(let producer) = origins[slot] else { return false }
                return [.conv, .depthwise].contains(operations[producer].engine) && !isOutput[producer]
                    && readerOps[producer] == [consumer]
            }
            // The input computed last is the one still in the banks.
            guard let slot = candidates.max(by: { producerIndex(origins[$0]) < producerIndex(origins[$1]) }) else {
                continue
            }
            guard case .operation(let producer) = origins[slot] else { continue }
            operations[producer].storesOutput = false
            operations[consumer].inputs[slot].isLoaded = false
        }
    }

    private func producerIndex(_ origin: ValueOrigin) -> Int {
        if case .operation(let index) = origin { return index }
        return -1
    }
}
