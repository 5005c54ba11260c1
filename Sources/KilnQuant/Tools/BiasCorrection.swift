import KilnCore
import KilnIR
import KilnPasses

/// Empirical bias correction (Nagel et al. 2019, "Data-Free Quantization Through Weight
/// Equalization and Bias Correction", §4.2, the empirical variant): removes the mean error
/// that quantization adds to each output channel of each quantized layer.
///
/// For every quantized `Conv`/`Gemm`, in node order, the expected output error
///
///     e_o = E[ conv(x_q; W_q, b) − conv(x; W, b) ]_o
///
/// is measured over the calibration samples (and all positions of channel `o`) and
/// subtracted from the bias, which is created when absent. `x` is the layer's input in the
/// float model; `x_q` its input in the fake-quantized model in which every layer upstream
/// is already corrected, so a layer also absorbs the mean error its inputs carry; `W_q` is
/// the weight on the plan's grid. Rounding errors are not zero-mean in general — a weight
/// channel too small for a per-tensor grid rounds to zero, a whole bias' worth of `W·E[x]`
/// with `E[x] > 0` after a ReLU — and the mean is what a bias can undo.
///
/// The layers are visited in lock-step passes over ``chunkSize`` samples at a time
/// (``LockstepExecution``), so the cost is two inference runs per sample, at most
/// ``maxSamples``, and memory is bounded by the chunk; each chunk after the first measures
/// the error left with the corrections so far and moves them to the running mean. Bias
/// values change, so bias quantization (fix positions, scales) must be derived after it.
///
/// ```swift
/// let corrected = try BiasCorrection.apply(graph, plan: plan, calibration: calibration, threads: 4)
/// ```
///
/// ### See Also
/// - ``CrossLayerEqualization``
/// - ``FastFinetune``
public enum BiasCorrection {
    /// Most calibration samples used (the first ones).
    public static let maxSamples = 64
    /// Samples run in lock-step at a time (memory); later chunks refine the corrections
    /// as a running mean, with the earlier chunks' corrections in place.
    public static let chunkSize = 16

    /// Corrects the biases of every quantized layer of `graph` over `calibration`'s samples.
    ///
    /// - Parameters:
    ///   - plan: the quantization of `graph` (a layer is quantized when its weight is planned).
    ///   - reference: the float model whose outputs are the target (default `graph`);
    ///     pass the model before an earlier tool that changed the float function.
    /// - Returns: the graph with corrected biases (same nodes and value names, plus a new
    ///   bias value for a layer that had none).
    /// - Throws: the errors of running the graph (`kernelMissing`, `invalidArgument`, …).
    public static func apply(
        _ graph: Graph, plan: QuantizationPlan, calibration: CalibrationSet, threads: Int, reference: Graph? = nil
    ) throws -> Graph {
        try apply(graph, reference: reference, plan: plan, samples: calibration.samples, threads: threads).0
    }

    /// One corrected layer.
    package struct Correction: Sendable {
        /// The layer's node name.
        package var layer: String
        /// `mean_o |e_o|`: the average size of the bias shift over output channels.
        package var meanShift: Double
        /// `max_o |e_o|`: the largest bias shift.
        package var maxShift: Double
    }

    /// Corrects the biases of every quantized layer of `graph` over `samples` (feed dicts,
    /// one per sample; the first ``maxSamples`` are used).
    ///
    /// - Parameter reference: the float model whose outputs are the target (default
    ///   `graph`); pass the model before an earlier tool that changed the float function.
    ///
    /// - Returns: the corrected graph (same nodes and value names, plus a new bias value
    ///   for a layer that had none) and one ``Correction`` per layer.
    /// - Throws: `missingInput` for a sample without a required input, and what running
    ///   the graph throws.
    package static func apply(
        _ graph: Graph, reference: Graph? = nil, plan: QuantizationPlan, samples: [[String: Tensor]], threads: Int
    ) throws -> (Graph, [Correction]) {
        let samples = Array(samples.prefix(maxSamples))
        let reference = reference ?? graph
        var corrected = graph
        // Per layer (node index): positions measured so far and the total shift applied.
        var measured: [Int: Int] = [:]
        var shifts: [Int: [Double]] = [:]
        for start in stride(from: 0, to: samples.count, by: chunkSize) {
            let chunk = Array(samples[start..<min(samples.count, start + chunkSize)])
            corrected = try LockstepExecution.run(
                corrected, reference: reference, plan: plan, samples: chunk, threads: threads
            ) { visit in
                let (error, count) = try meanError(visit)
                // A running mean: this chunk's residual, weighted by its share of the positions.
                let seen = measured[visit.layer.node.index, default: 0]
                let weight = Double(count) / Double(max(seen + count, 1))
                let delta = error.map { -$0 * weight }
                guard var bias = visit.layer.editableBias(in: RewriteView(visit.graph)) else { return visit.graph }
                bias.add(delta)
                guard let updated = visit.layer.settingBias(bias, in: visit.graph) else { return visit.graph }
                measured[visit.layer.node.index] = seen + count
                let total = shifts[visit.layer.node.index] ?? Array(repeating: 0, count: delta.count)
                shifts[visit.layer.node.index] = zip(total, delta).map(+)
                return updated
            }
        }
        let corrections = shifts.keys.sorted().compactMap { index -> Correction? in
            guard let shift = shifts[index]?.map(Swift.abs) else { return nil }
            return Correction(
                layer: graph.nodes[index].name, meanShift: shift.reduce(0, +) / Double(max(shift.count, 1)),
                maxShift: shift.max() ?? 0)
        }
        return (corrected, corrections)
    }

    /// `E[layer(x_q; W_q, b_q) − layer(x; W, b)]` per output channel over the visit's
    /// samples, and the positions per channel it averages.
    private static func meanError(_ visit: LockstepExecution.Visit) throws -> ([Double], Int) {
        var sums = [Double](repeating: 0, count: visit.layer.outputChannels)
        var count = 0
        for (input, target) in zip(visit.quantizedInputs, visit.floatOutputs) {
            let output = try visit.evaluate(input, weight: visit.quantizedWeight, bias: visit.quantizedBias)
            guard output.shape == target.shape, output.rank >= 2, output.shape[1] == sums.count else {
                throw KilnError(
                    .shapeMismatch,
                    "[\(visit.node.op)] node '\(visit.node.name)': output \(output.shape) vs \(target.shape)")
            }
            let (difference, positions) = channelSums(output, minus: target)
            for channel in sums.indices { sums[channel] += difference[channel] }
            count += positions
        }
        return (sums.map { $0 / Double(max(count, 1)) }, count)
    }

    /// Per channel (axis 1) sums of `a − b` over every other axis, and the positions per channel.
    static func channelSums(_ a: Tensor, minus b: Tensor) -> ([Double], Int) {
        let channels = a.shape[1]
        let inner = Tensor.elementCount(Array(a.shape.dropFirst(2)))
        var sums = [Double](repeating: 0, count: channels)
        for (index, (x, y)) in zip(a.doubleScalars(), b.doubleScalars()).enumerated() {
            sums[(index / max(inner, 1)) % channels] += x - y
        }
        return (sums, a.count / max(channels, 1))
    }
}
