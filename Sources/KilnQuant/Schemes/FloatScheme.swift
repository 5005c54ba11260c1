import KilnCore
import KilnIR
import KilnPasses

/// The CPU scheme (`--scale float`), as onnxruntime's static QDQ quantizer does it: the
/// float inputs and outputs of every quantizable op are quantized with float scales —
/// signed int8 with zero point 0 (symmetric) or uint8 with a zero point (asymmetric) —
/// weights symmetric int8 per tensor or per output channel, biases int32 at
/// `input scale × weight scale`, everything rounded half to even like `QuantizeLinear`.
/// Data-movement ops (reshapes, transposes, max-pool, resize, pad) reuse their input's
/// quantization for their output, as onnxruntime's "direct 8-bit" ops do — and, like them,
/// only when their input is already quantized (a transpose of an LSTM's float output stays
/// float). A ReLU or Clip that is the only reader of a quantized op's result shares that
/// result's quantization, calibrated to the activation's (narrower) range: onnxruntime's
/// "removable activation", which folds the activation into the producer's requantization.
enum FloatScheme {
    /// Ops whose float inputs and outputs are quantized.
    static let quantizedOps = Set<OpKind>([
        .conv, .convTranspose, .gemm, .matMul, .add, .mul, .relu, .relu6, .leakyRelu, .clip, .sigmoid,
        .hardSigmoid, .hardSwish, .averagePool, .globalAveragePool, .concat,
    ]).union(sharingOps)
    /// Ops whose output takes the quantization of their input.
    static let sharingOps: Set<OpKind> = [
        .maxPool, .reshape, .flatten, .transpose, .squeeze, .unsqueeze, .resize, .pad,
    ]
    /// Activations whose output range can stand for their input's when they are its only reader.
    static let removableActivations: Set<OpKind> = [.relu, .relu6, .clip]
    /// The rounding of `QuantizeLinear`.
    static let rounding = RoundMode.halfToEven

    /// What to quantize: activations in graph order, groups sharing parameters, and the
    /// weights and biases with the activation that feeds them.
    struct Structure {
        var activations: [String] = []
        var groups = PositionGroups()
        /// Weight name → per-channel axis.
        var weights: [String: Int] = [:]
        /// Bias name → (input activation, weight).
        var biases: [String: (input: String, weight: String)] = [:]
        /// Constant operands of element-wise ops (quantized like activations).
        var operands: Set<String> = []
        /// Activations calibrated to another value's range: an op's result → the removable
        /// activation that is its only reader.
        var rangeSources: [String: String] = [:]
    }

    /// Analyses a canonical graph.
    static func structure(_ graph: Graph) -> Structure {
        let view = RewriteView(graph)
        var structure = Structure()
        var seen = Set<String>()
        func addActivation(_ id: ValueID) {
            let name = graph[id].name
            structure.groups.add(name)
            if seen.insert(name).inserted { structure.activations.append(name) }
        }
        let producers = graph.producers()
        for node in graph.nodes where quantizedOps.contains(node.op) {
            guard let data = node.input(0), DPUSupport.isFloat32(data, view) else { continue }
            // A data-movement op only carries a quantization its input already has.
            if sharingOps.contains(node.op), !seen.contains(graph[data].name) { continue }
            let dataInputs: [ValueID]
            switch node.op {
            case .conv, .convTranspose, .gemm: dataInputs = [data]
            case .add, .mul, .concat, .matMul: dataInputs = node.inputs.compactMap { $0 }
            default: dataInputs = [data]
            }
            var weightName: String?
            if [.conv, .convTranspose, .gemm, .matMul].contains(node.op), let weight = node.input(1),
                let tensor = view.constant(weight), tensor.dtype == .float32
            {
                weightName = graph[weight].name
                structure.weights[graph[weight].name] = weightAxis(node, rank: tensor.rank)
            }
            for id in dataInputs where DPUSupport.isFloat32(id, view) && graph[id].name != weightName {
                if view.constant(id) != nil { structure.operands.insert(graph[id].name) } else { addActivation(id) }
            }
            if let weightName, node.op != .matMul, let bias = node.input(2), view.constant(bias)?.dtype == .float32 {
                structure.biases[graph[bias].name] = (graph[data].name, weightName)
            }
            for case let output? in node.outputs where DPUSupport.isFloat32(output, view) {
                addActivation(output)
                if sharingOps.contains(node.op) { structure.groups.union(graph[data].name, graph[output].name) }
            }
            if removableActivations.contains(node.op), view.hasSingleUse(data), let output = view.singleOutput(node),
                let producer = producers[data.index], quantizedOps.contains(graph.nodes[producer.index].op),
                !sharingOps.contains(graph.nodes[producer.index].op),
                !removableActivations.contains(graph.nodes[producer.index].op)
            {
                structure.groups.union(graph[data].name, graph[output].name)
                structure.rangeSources[graph[data].name] = graph[output].name
            }
        }
        return structure
    }

    /// The output-channel axis of a weight.
    private static func weightAxis(_ node: Node, rank: Int) -> Int {
        switch node.op {
        case .convTranspose: return 1
        case .gemm: return (try? node.attributes.int("transB", default: 0)) == 1 ? 0 : 1
        case .matMul: return rank - 1
        default: return 0
        }
    }

    /// The plan: each group quantized with the range its first member (the data source)
    /// calibrated to — or, for a result a removable activation reads, the activation's range.
    static func plan(
        _ graph: Graph, structure: Structure, observers: [String: TensorObserver], config: QuantizationConfig,
        samples: Int
    ) -> QuantizationPlan {
        var plan = QuantizationPlan(scale: .float, target: nil, method: config.method, calibrationSamples: samples)
        var groupEntry: [String: TensorQuantization] = [:]
        for name in structure.activations {
            let root = structure.groups.root(name)
            if var shared = groupEntry[root] {
                shared.note = "shares the quantization of its input"
                plan.tensors[name] = shared
                continue
            }
            let range =
                observers[structure.rangeSources[name] ?? name]?.floatRange(
                    method: config.method, percentile: config.percentile, symmetric: config.symmetricActivations)
                ?? (0, 0)
            let entry = activation(range, symmetric: config.symmetricActivations, method: config.method)
            groupEntry[root] = entry
            plan.tensors[name] = entry
        }
        let constants = Dictionary(
            graph.initializers.map { (graph[$0.key].name, $0.value) }, uniquingKeysWith: { first, _ in first })
        for (name, axis) in structure.weights {
            guard let tensor = constants[name] else { continue }
            plan.tensors[name] = weight(tensor, axis: config.perChannel ? axis : nil)
        }
        // Constant operands of element-wise ops are quantized like the activations they meet
        // (onnxruntime quantizes them with the activation type): their whole range, with a zero
        // point when activations are asymmetric.
        for name in structure.operands {
            guard let tensor = constants[name] else { continue }
            let values = tensor.doubleScalars()
            let range = (values.min() ?? 0, values.max() ?? 0)
            var entry = activation(range, symmetric: config.symmetricActivations, method: config.method)
            entry.method = nil
            plan.tensors[name] = entry
        }
        for (name, source) in structure.biases {
            guard let input = plan.tensors[source.input], let weight = plan.tensors[source.weight],
                let inputScale = input.scales.first
            else { continue }
            plan.tensors[name] = TensorQuantization(
                dtype: .int32, bitWidth: 32, fixPosition: nil, scales: weight.scales.map { $0 * inputScale },
                zeroPoints: weight.scales.map { _ in 0 }, axis: weight.axis.map { _ in 0 }, roundMode: rounding,
                method: nil, note: "input scale × weight scale")
        }
        return plan
    }

    /// An activation's quantization from its calibrated range.
    static func activation(_ range: (lower: Double, upper: Double), symmetric: Bool, method: CalibrationMethod)
        -> TensorQuantization
    {
        if symmetric {
            let largest = max(-range.lower, range.upper)
            let scale = largest > 0 ? Float(largest / 127) : 1
            return TensorQuantization(
                dtype: .int8, bitWidth: 8, fixPosition: nil, scales: [scale], zeroPoints: [0], axis: nil,
                roundMode: rounding, method: method, note: nil)
        }
        let lower = min(range.lower, 0)
        let upper = max(range.upper, 0)
        let scale = upper > lower ? (upper - lower) / 255 : 1
        let zeroPoint = Int(min(max((-lower / scale).rounded(.toNearestOrEven), 0), 255))
        return TensorQuantization(
            dtype: .uint8, bitWidth: 8, fixPosition: nil, scales: [Float(scale)], zeroPoints: [zeroPoint], axis: nil,
            roundMode: rounding, method: method, note: nil)
    }

    /// A weight's symmetric int8 quantization, per tensor or per slice along `axis`.
    static func weight(_ tensor: Tensor, axis: Int?) -> TensorQuantization {
        let values = tensor.doubleScalars()
        var largest: [Double]
        if let axis, axis < tensor.rank {
            let channels = tensor.shape[axis]
            let inner = tensor.shape[(axis + 1)...].reduce(1, *)
            largest = [Double](repeating: 0, count: channels)
            for (index, value) in values.enumerated() {
                let channel = (index / inner) % channels
                largest[channel] = max(largest[channel], Swift.abs(value))
            }
        } else {
            largest = [values.reduce(0) { max($0, Swift.abs($1)) }]
        }
        let scales = largest.map { $0 > 0 ? Float($0 / 127) : 1 }
        return TensorQuantization(
            dtype: .int8, bitWidth: 8, fixPosition: nil, scales: scales, zeroPoints: scales.map { _ in 0 },
            axis: scales.count > 1 || axis != nil ? axis : nil, roundMode: rounding, method: nil, note: nil)
    }
}
