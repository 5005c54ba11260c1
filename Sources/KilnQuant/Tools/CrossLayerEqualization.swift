import Foundation
import KilnCore
import KilnIR
import KilnPasses

/// Cross-layer equalization (CLE; Nagel et al. 2019, "Data-Free Quantization Through
/// Weight Equalization and Bias Correction", §4.1): rebalances the per-channel weight
/// ranges of consecutive layers so that per-tensor quantization wastes less of its grid.
///
/// For a pair `first → (ReLU | LeakyReLU | nothing) → second` of `Conv`/`Gemm` layers
/// (grouped and depthwise convolutions included), output channel `i` of `first` (weights
/// and bias) is divided by `s_i` and input channel `i` of `second` multiplied by it, with
///
///     s_i = sqrt(r1_i · r2_i) / r2_i        (r = max |w| over the channel)
///
/// after which both channels have the range `sqrt(r1_i · r2_i)`. The float model computes
/// the same function, because the activation between is *positively homogeneous*:
/// `f(x / s) = f(x) / s` for every `s > 0`. ReLU, LeakyReLU (any slope) and no activation
/// are; ReLU6 is not — `relu6(x / s) = min(max(x / s, 0), 6)` while
/// `relu6(x) / s = min(max(x / s, 0), 6 / s)`, which differ wherever the clip binds unless
/// `s = 1` — so a ReLU6 pair is skipped and reported (Vitis AI offers to replace ReLU6
/// by ReLU first, which changes the float model; we do not). Other activations, an
/// intermediate value with other readers (a residual branch, a graph output), and
/// weights or biases that are shared or not constant are skipped and reported too.
///
/// Pairs that share a layer (`conv1 → conv2 → conv3`) interact, so the scaling is repeated
/// over all pairs until every `s_i` is within ``tolerance`` of 1 (a lone pair converges in
/// one round), at most ``maxRounds`` times. Run it after `Pass.canonicalization` (batch
/// norms folded, activations recognized) and before calibration.
///
/// ```swift
/// let (equalized, report) = try CrossLayerEqualization.apply(canonical)
/// print(report)
/// ```
///
/// ### See Also
/// - ``BiasCorrection``
public enum CrossLayerEqualization {
    /// Most rounds over all pairs.
    public static let maxRounds = 50
    /// Convergence: every scale within this of 1.
    public static let tolerance = 1e-4

    /// Equalizes every eligible pair of `graph`.
    ///
    /// - Returns: the equalized graph (same nodes and value names; only weight and bias
    ///   values change, and a scalar `Gemm` `C` may become a vector) and a report of the
    ///   pairs equalized and skipped.
    /// - Throws: nothing today; the signature leaves room for verification errors.
    public static func apply(_ graph: Graph) throws -> (Graph, CLEReport) {
        let view = RewriteView(graph)
        let (pairs, skipped) = candidatePairs(view)
        var weights: [ValueID: [Double]] = [:]
        var biases: [NodeID: LinearLayer.EditableBias] = [:]
        for pair in pairs {
            for layer in [pair.first, pair.second] where weights[layer.weight] == nil {
                weights[layer.weight] = view.graph.initializers[layer.weight]?.doubleScalars() ?? []
            }
            if let bias = pair.first.editableBias(in: view), bias.exists {
                biases[pair.first.node] = bias
            }
        }
        let before = pairs.map { spreads($0, weights) }
        var rounds = 0
        while rounds < maxRounds, !pairs.isEmpty {
            rounds += 1
            var largest = 0.0
            for pair in pairs {
                let scales = equalizingScales(pair, weights)
                largest = max(largest, scales.map { Swift.abs($0 - 1) }.max() ?? 0)
                scale(pair, by: scales, &weights, &biases)
            }
            if largest <= tolerance { break }
        }
        var result = graph
        for (id, values) in weights {
            if let old = graph.initializers[id],
                let tensor = Tensor.fromDoubles(values, shape: old.shape, dtype: old.dtype)
            {
                result.initializers[id] = tensor
            }
        }
        for pair in pairs {
            if let bias = biases[pair.first.node], let updated = pair.first.settingBias(bias, in: result) {
                result = updated
            }
        }
        let equalized = zip(pairs, before).map { pair, before in
            let after = spreads(pair, weights)
            return CLEReport.Pair(
                first: graph.nodes[pair.first.node.index].name, second: graph.nodes[pair.second.node.index].name,
                activation: pair.activation, channels: pair.first.outputChannels,
                firstRangeRatio: CLEReport.Ratio(before: before.first, after: after.first),
                secondRangeRatio: CLEReport.Ratio(before: before.second, after: after.second))
        }
        return (result, CLEReport(pairs: equalized, skipped: skipped, rounds: rounds))
    }

    // MARK: Pairs

    /// Two layers and the activation between them (`nil`: none).
    struct Pair {
        let first: LinearLayer
        let second: LinearLayer
        let activation: String?
    }

    /// Activations `f` with `f(x / s) = f(x) / s` for `s > 0`.
    static let homogeneous: Set<OpKind> = [.relu, .leakyRelu, .identity]

    /// The eligible pairs, and the candidates skipped with their reasons.
    static func candidatePairs(_ view: RewriteView) -> ([Pair], [CLEReport.Skip]) {
        let graph = view.graph
        let producers = graph.producers()
        let layers = Dictionary(
            LinearLayer.all(in: view).map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
        var pairs: [Pair] = []
        var skipped: [CLEReport.Skip] = []
        for (index, node) in graph.nodes.enumerated() where node.op == .conv || node.op == .gemm {
            guard let input = node.input(0), var firstID = producers[input.index] else { continue }
            var activation: Node?
            if OpKind.elementwiseUnary.contains(graph.nodes[firstID.index].op) {
                let candidate = graph.nodes[firstID.index]
                guard let source = candidate.input(0), let producer = producers[source.index],
                    [.conv, .gemm].contains(graph.nodes[producer.index].op)
                else { continue }
                activation = candidate
                firstID = producer
            } else if ![.conv, .gemm].contains(graph.nodes[firstID.index].op) {
                continue
            }
            let firstNode = graph.nodes[firstID.index]
            let skip = { (reason: String) in
                skipped.append(CLEReport.Skip(first: firstNode.name, second: node.name, reason: reason))
            }
            guard let first = layers[firstID], let second = layers[NodeID(index)] else {
                skip("a weight is not a float constant")
                continue
            }
            if let reason = ineligibility(first, second, activation, view) {
                skip(reason)
                continue
            }
            pairs.append(Pair(first: first, second: second, activation: activation.map { $0.op.rawValue }))
        }
        return (pairs, skipped)
    }

    /// Why a candidate pair cannot be equalized exactly, or `nil` when it can.
    private static func ineligibility(
        _ first: LinearLayer, _ second: LinearLayer, _ activation: Node?, _ view: RewriteView
    )
        -> String?
    {
        let graph = view.graph
        if let activation {
            switch activation.op {
            case .relu6:
                return "relu6 is not positively homogeneous (relu6(x/s) ≠ relu6(x)/s where it clips)"
            case let op where !homogeneous.contains(op):
                return "\(op) is not positively homogeneous (f(x/s) ≠ f(x)/s)"
            default:
                break
            }
        }
        for case let value? in [graph.nodes[first.node.index].outputs[0], activation?.outputs.first ?? nil]
        where !view.hasSingleUse(value) {
            return "'\(graph[value].name)' has other readers"
        }
        guard first.outputChannels == second.inputChannels else {
            return "\(first.outputChannels) output channels feed \(second.inputChannels) input channels"
        }
        if case .gemm(let transA, _, _, _) = second.kind, transA {
            return "the second Gemm transposes its input (transA)"
        }
        guard first.ownsParameters(in: view), second.ownsParameters(in: view) else {
            return "a weight or bias is shared with another node"
        }
        guard first.editableBias(in: view) != nil else { return "the first layer's bias is not a float constant" }
        return nil
    }

    // MARK: Scaling

    /// `s_i = sqrt(r1_i / r2_i)` (1 where either range is zero).
    private static func equalizingScales(_ pair: Pair, _ weights: [ValueID: [Double]]) -> [Double] {
        let outputRanges = pair.first.outputRanges(weights[pair.first.weight] ?? [])
        let inputRanges = pair.second.inputRanges(weights[pair.second.weight] ?? [])
        return zip(outputRanges, inputRanges).map { r1, r2 in
            guard r1 > 0, r2 > 0, r1.isFinite, r2.isFinite else { return 1 }
            return (r1 / r2).squareRoot()
        }
    }

    /// Divides output channel `i` of the first layer by `s_i` and multiplies input channel
    /// `i` of the second by it.
    private static func scale(
        _ pair: Pair, by scales: [Double], _ weights: inout [ValueID: [Double]],
        _ biases: inout [NodeID: LinearLayer.EditableBias]
    ) {
        if var values = weights[pair.first.weight] {
            for index in values.indices { values[index] /= scales[pair.first.outputChannel(ofWeight: index)] }
            weights[pair.first.weight] = values
        }
        if var values = weights[pair.second.weight] {
            for index in values.indices { values[index] *= scales[pair.second.inputChannel(ofWeight: index)] }
            weights[pair.second.weight] = values
        }
        biases[pair.first.node]?.divide(by: scales)
    }

    /// `max r / min r` over the nonzero channel ranges of the first layer's outputs and of
    /// the second layer's inputs.
    private static func spreads(_ pair: Pair, _ weights: [ValueID: [Double]]) -> (first: Double, second: Double) {
        func spread(_ ranges: [Double]) -> Double {
            let nonzero = ranges.filter { $0 > 0 }
            guard let low = nonzero.min(), let high = nonzero.max() else { return 1 }
            return high / low
        }
        return (
            spread(pair.first.outputRanges(weights[pair.first.weight] ?? [])),
            spread(pair.second.inputRanges(weights[pair.second.weight] ?? []))
        )
    }
}
