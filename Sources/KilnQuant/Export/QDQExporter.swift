import Foundation
import KilnCore
import KilnIR
import KilnONNX

/// QDQ export: a quantized graph as an ONNX model with `QuantizeLinear`/`DequantizeLinear`
/// pairs, which onnxruntime (and any ONNX QDQ consumer) runs.
///
/// - Every quantized activation `x` (graph input or node result with a plan entry) is
///   followed by `Q(x) → DQ`, and its readers read the `DQ` result. A quantized graph
///   output keeps its name on the `DQ` result (the float value becomes `x_float`).
/// - Every quantized weight is stored as an integer initializer (`w_quantized`) and a
///   `DequantizeLinear` whose result takes the weight's name; per-channel weights carry
///   the plan's `axis`.
/// - Biases follow the plan when it has them (the DPU scheme quantizes biases to its own
///   fix position). In the float scheme a bias without an entry, whose layer's input and
///   weight are quantized, is stored as int32 with scale `s_in · s_w` (per channel when
///   the weight is), as onnxruntime's quantizer does.
/// - Power-of-two scales are written as exact floats (`2^-p`) with zero point 0.
///
/// What plain QDQ cannot state about the DPU is exported in standard ONNX forms
/// (`docs/onnx-export.md` lists them). The DPU rounds half up and `QuantizeLinear` half to
/// even, so each DPU layer's output gets half a step of its result's resolution added before
/// quantizing: its ties then round up too, and onnxruntime computes the integers ``QuantSim``
/// does.
///
/// ```swift
/// let onnx = try QDQExporter.export(graph, plan: plan, opset: 13)
/// try FileIO.writeAtomically(onnx, to: URL(fileURLWithPath: "model.qdq.onnx"))
/// try FileIO.writeAtomically(try plan.jsonData(), to: URL(fileURLWithPath: "model.qdq.quant.json"))
/// ```
public enum QDQExporter {
    /// Serializes a quantized model as ONNX QDQ: ``export(_:plan:opset:)`` of its graph and plan.
    ///
    /// - Parameters:
    ///   - model: The quantized model (``Quantizer/quantize(_:calibration:config:progress:)``).
    ///   - opset: The default-domain opset (``ONNXExporter/oldestOpset`` or newer).
    /// - Returns: The ONNX model's bytes.
    /// - Throws: `invalidModel` when the plan does not fit the graph; the errors of
    ///   ``ONNXExporter/export(_:opset:)``.
    public static func export(_ model: QuantizedModel, opset: Int) throws -> Data {
        try export(model.graph, plan: model.plan, opset: opset)
    }

    /// Serializes the QDQ form of `graph` quantized by `plan`.
    ///
    /// - Parameters:
    ///   - graph: The float graph as quantized (it may hold `dpu_subgraph` nodes; they are
    ///     inlined).
    ///   - plan: The quantization of its tensors, by value name.
    ///   - opset: The default-domain opset (``ONNXExporter/oldestOpset`` or newer).
    /// - Returns: The ONNX model's bytes.
    /// - Throws: `invalidModel` when the plan does not fit the graph (a per-channel entry
    ///   whose axis or scale count does not match its tensor); the errors of
    ///   ``ONNXExporter/export(_:opset:)``.
    public static func export(_ graph: Graph, plan: QuantizationPlan, opset: Int) throws -> Data {
        try ONNXExporter.export(try qdqGraph(graph, plan: plan), opset: opset)
    }

    /// The QDQ graph that ``export(_:plan:opset:)`` serializes, as IR (Kiln's interpreter
    /// runs it too).
    ///
    /// - Throws: `invalidModel` when the plan does not fit the graph.
    public static func qdqGraph(_ graph: Graph, plan: QuantizationPlan) throws -> Graph {
        let (flat, isFromSubgraph) = try graph.inliningDPUSubgraphs()
        var builder = QDQBuilder(graph: flat, plan: plan)
        let dpuNodes = QDQDPUForms.dpuNodes(flat, isFromSubgraph: isFromSubgraph, plan: plan)
        builder.roundingShifts = QDQDPUForms.roundingShifts(flat, plan: plan)
        try builder.quantizeWeights()
        try builder.quantizeBiases()
        for id in flat.inputs where flat.initializers[id] == nil {
            try builder.quantizeActivation(id)
        }
        for node in flat.nodes {
            let rewritten = dpuNodes.contains(node.name) ? try QDQDPUForms.rewrite(node, in: &builder) : [node]
            for var piece in rewritten {
                piece.inputs = piece.inputs.map { $0.map(builder.reader) }
                builder.append(piece)
                for case let output? in piece.outputs { try builder.quantizeActivation(output) }
            }
        }
        return try builder.finished()
    }

    /// Where `OUT.quant.json` goes for `OUT.onnx`: beside it, `.onnx` replaced.
    public static func planURL(forModelAt url: URL) -> URL {
        let base = url.pathExtension == "onnx" ? url.deletingPathExtension() : url
        return base.appendingPathExtension("quant.json")
    }
}

/// Builds the QDQ graph: the float graph's values and nodes plus quantize/dequantize
/// nodes, with readers moved to the dequantized values.
struct QDQBuilder {
    /// The graph being built (nodes are appended in order).
    private(set) var graph: Graph
    let plan: QuantizationPlan
    /// Quantizations of values the DPU forms add (not in the plan).
    var extraQuantizations: [ValueID: TensorQuantization] = [:]
    /// Fraction bits of DPU results rounded half up, by value name
    /// (``QDQDPUForms/roundingShifts(_:plan:)``).
    var roundingShifts: [String: Int] = [:]
    /// For each quantized value, the value its readers read instead.
    private var replacement: [ValueID: ValueID] = [:]
    private var nodes: [Node] = []
    private var quantized: Set<ValueID> = []
    /// The float graph's nodes and how many read each value.
    private let sourceNodes: [Node]
    private let readerCounts: [Int]

    init(graph: Graph, plan: QuantizationPlan) {
        self.graph = graph
        self.graph.nodes = []
        self.plan = plan
        sourceNodes = graph.nodes
        readerCounts = graph.consumers().map(\.count)
    }

    /// What a reader of `id` reads.
    func reader(_ id: ValueID) -> ValueID { replacement[id] ?? id }

    /// The plan's entry for a value, by name.
    func quantization(of id: ValueID) -> TensorQuantization? {
        extraQuantizations[id] ?? plan.tensors[graph[id].name]
    }

    mutating func append(_ node: Node) { nodes.append(node) }

    /// A new float value named after `base`.
    mutating func addValue(_ base: String, like id: ValueID) -> ValueID {
        graph.addValue(Value(name: graph.uniqueName(base), type: graph[id].type))
    }

    /// A new constant.
    mutating func addConstant(_ tensor: Tensor, name: String) -> ValueID {
        graph.addInitializer(tensor, name: name)
    }

    /// Weights: float initializers with an entry become integer initializers and a
    /// `DequantizeLinear` that takes the weight's name.
    mutating func quantizeWeights() throws {
        let inputs = Set(graph.inputs)
        for (id, tensor) in graph.initializers.sorted(by: { $0.key < $1.key })
        where !inputs.contains(id) && tensor.dtype == .float32 {
            guard let quantization = quantization(of: id) else { continue }
            try dequantizedConstant(id, tensor, quantization)
        }
    }

    /// Float-scheme biases without an entry: int32 at `s_in · s_w`.
    mutating func quantizeBiases() throws {
        guard plan.scale == .float else { return }
        for node in sourceNodes where [.conv, .convTranspose, .gemm].contains(node.op) {
            guard let x = node.input(0), let w = node.input(1), let b = node.input(2),
                let bias = graph.initializers[b], bias.dtype == .float32, bias.rank == 1,
                quantization(of: b) == nil, !quantized.contains(b), readerCounts[b.index] == 1,
                let input = quantization(of: x), input.scales.count == 1,
                let weight = quantization(of: w)
            else { continue }
            let channels = bias.shape[0]
            guard weight.scales.count == 1 || weight.scales.count == channels else { continue }
            let scales = (0..<(weight.scales.count == 1 ? 1 : channels)).map { input.scales[0] * weight.scales[$0] }
            var biasQuantization = TensorQuantization.scaled(scales, dtype: .int32, axis: scales.count == 1 ? nil : 0)
            biasQuantization.note = "s_in · s_w"
            try dequantizedConstant(b, bias, biasQuantization)
        }
    }

    /// Replaces constant `id` by integers and a `DequantizeLinear` producing `id`.
    private mutating func dequantizedConstant(_ id: ValueID, _ tensor: Tensor, _ quantization: TensorQuantization)
        throws
    {
        let name = graph[id].name
        let integers = try QDQBuilder.quantize(tensor, quantization, name: name)
        let stored = addConstant(integers, name: "\(name)_quantized")
        let (scale, zeroPoint) = try parameters(quantization, name: name, rank: tensor.rank)
        graph.initializers[id] = nil
        quantized.insert(id)
        nodes.append(
            Node(
                name: graph.uniqueName("\(name)_DequantizeLinear"), op: .dequantizeLinear,
                inputs: [stored, scale, quantization.dtype == .int32 ? nil : zeroPoint], outputs: [id],
                attributes: axisAttribute(quantization)))
    }

    /// Follows activation `id` with `Q → DQ` when it has an entry.
    mutating func quantizeActivation(_ id: ValueID) throws {
        guard !quantized.contains(id), let quantization = quantization(of: id),
            graph[id].type.dtype == nil || graph[id].type.dtype == .float32
        else { return }
        quantized.insert(id)
        let name = graph[id].name
        let (scale, zeroPoint) = try parameters(quantization, name: name, rank: graph[id].type.shape?.count)
        let integer = graph.addValue(
            Value(
                name: graph.uniqueName("\(name)_quantized"),
                type: TensorType(dtype: quantization.dtype, shape: graph[id].type.shape)))
        let dequantized = addValue("\(name)_dequantized", like: id)
        var source = id
        if let shift = roundingShifts[name], let position = quantization.fixPosition, quantization.roundMode == .halfUp
        {
            // Half a step of the result's resolution, so that QuantizeLinear's half-to-even
            // rounds the DPU's ties (exactly n + 1/2) up, as the DPU does.
            let nudge = addConstant(Tensor(scalar: exp2f(Float(-(position + shift + 1)))), name: "\(name)_tie_break")
            source = addValue("\(name)_tie_broken", like: id)
            nodes.append(
                Node(name: graph.uniqueName("\(name)_tie_break"), op: .add, inputs: [id, nudge], outputs: [source]))
        }
        nodes.append(
            Node(
                name: graph.uniqueName("\(name)_QuantizeLinear"), op: .quantizeLinear,
                inputs: [source, scale, zeroPoint],
                outputs: [integer], attributes: axisAttribute(quantization)))
        nodes.append(
            Node(
                name: graph.uniqueName("\(name)_DequantizeLinear"), op: .dequantizeLinear,
                inputs: [integer, scale, zeroPoint], outputs: [dequantized], attributes: axisAttribute(quantization)))
        replacement[id] = dequantized
    }

    /// The scale and zero-point constants of a quantization.
    private mutating func parameters(_ quantization: TensorQuantization, name: String, rank: Int?) throws -> (
        ValueID, ValueID
    ) {
        guard !quantization.scales.isEmpty, quantization.zeroPoints.count == quantization.scales.count else {
            throw KilnError(
                .invalidModel,
                "quantization of '\(name)' has \(quantization.scales.count) scales and \(quantization.zeroPoints.count) zero points"
            )
        }
        if let axis = quantization.axis, let rank, !(-rank..<rank).contains(axis) {
            throw KilnError(.invalidModel, "quantization of '\(name)' has axis \(axis) for rank \(rank)")
        }
        let perChannel = quantization.axis != nil && quantization.scales.count > 1
        let shape = perChannel ? [quantization.scales.count] : []
        let scales = perChannel ? quantization.scales : [quantization.scales[0]]
        let zeroPoints = perChannel ? quantization.zeroPoints : [quantization.zeroPoints[0]]
        let scale = addConstant(Tensor(shape: shape, scalars: scales), name: "\(name)_scale")
        let zeroPoint = addConstant(
            try QDQBuilder.integerTensor(zeroPoints, shape: shape, dtype: quantization.dtype),
            name: "\(name)_zero_point")
        return (scale, zeroPoint)
    }

    private func axisAttribute(_ quantization: TensorQuantization) -> Attributes {
        guard let axis = quantization.axis, quantization.scales.count > 1 else { return Attributes() }
        return Attributes(["axis": .int(axis)])
    }

    /// The built graph: quantized graph outputs keep their names on the dequantized values.
    mutating func finished() throws -> Graph {
        graph.nodes = nodes
        for (slot, id) in graph.outputs.enumerated() {
            guard let dequantized = replacement[id] else { continue }
            let name = graph[id].name
            graph[id].name = graph.uniqueName("\(name)_float")
            graph[dequantized].name = name
            graph.outputs[slot] = dequantized
        }
        return try graph.topologicallySorted()
    }
}
