import Foundation
import KilnCore
import KilnIR
import KilnKernels
import KilnPasses

/// Fast finetune: AdaQuant-style (Hubara et al. 2020, "Improving Post Training Neural
/// Quantization: Layer-wise Calibration and Integer Programming") layer-wise optimization
/// of the quantized weights, on unlabeled calibration data.
///
/// For each quantized `Conv`/`Gemm`, in node order, it looks for weights `W'` on the
/// plan's grid (fix position or scale, kept) and a bias shift that minimize
///
///     Σ_samples ‖ layer(x_q; W', b') − layer(x; W, b) ‖²  +  λ ‖W' − W‖²
///
/// where `x` is the layer's input in the float model and `x_q` its input in the
/// fake-quantized model whose upstream layers are already finetuned (one lock-step pass,
/// ``LockstepExecution``). The weights move by Adam on latent float weights, quantized in
/// the forward step with a straight-through estimator; the bias shift is solved exactly
/// at every step. The small ridge `λ` (see `GroupProblem`) keeps weights the data does
/// not determine — a classifier `Gemm` sees one row per sample — near the float ones.
///
/// Why AdaQuant and not AdaRound: AdaRound learns, per weight, only whether to round up
/// or down, with a regularizer annealed over thousands of steps; AdaQuant lets a weight
/// move by more than one grid step — which matters with power-of-two per-tensor grids,
/// where a whole channel may sit within a step or two of zero — and converges in far
/// fewer steps. Both minimize the layer's output error; AdaQuant's bias term absorbs the
/// mean error as well (bias correction comes with it).
///
/// Bounded in time: the layer is linear in its weights, so the objective is the quadratic
/// form of ``GroupStatistics``, gathered in one pass over at most ``maxSamples`` samples
/// and ``maxPositions`` output positions per group (`(depth + 1)²` multiply-adds each;
/// fewer positions for wide layers, see ``statisticsBudget``). Each of the ``maxSteps``
/// steps then costs `depth · channels`, plus `depth` per weight that changes grid point,
/// whatever the data size. On the reference models 100 steps reach what 200 and 300 do
/// (output SQNR within ±0.7 dB), so 100 it is. Deterministic: the same inputs give the
/// same weights (Vitis AI's fast finetune is not, by the guide's own account).
///
/// No regression on the calibration data, per layer: each output channel keeps the best
/// weights seen (by the regularized objective), starting from the plainly quantized ones,
/// which are also the nearest to `W`; so its output error never exceeds that of plain
/// quantization. The weights returned lie on the plan's grid, inside the symmetric range
/// `±qmax · step`: re-quantizing them with the same fix position or scale, or with a fix
/// position derived again from their range, is exact. With float scales the weights at
/// each scale channel's largest level keep their float values, so a scale derived again
/// from the range (`max |w| / qmax`) is the same too. Bias quantization must be derived
/// afterwards.
///
/// After ``BiasCorrection`` (or any tool that changed the float function), pass the
/// model before it as `reference`: the target is the float model's output.
///
/// ```swift
/// let finetuned = try FastFinetune.apply(graph, plan: plan, calibration: calibration, threads: 4)
/// ```
///
/// ### See Also
/// - ``BiasCorrection``
public enum FastFinetune {
    /// Most calibration samples used (the first ones).
    public static let maxSamples = 8
    /// Optimization steps per layer.
    public static let maxSteps = 100
    /// Most output positions per layer group whose statistics are gathered, evenly spaced
    /// over the samples and each sample's positions.
    public static let maxPositions = 1024
    /// Multiply-adds per group for gathering statistics (`(depth + 1)²` per position):
    /// wide layers get fewer positions, down to ``minPositions``.
    public static let statisticsBudget = 2e7
    /// Fewest positions per group, whatever the budget.
    public static let minPositions = 256

    /// Positions per group gathered for a layer of `depth` inputs per output.
    static func positionLimit(depth: Int) -> Int {
        let affordable = Int(statisticsBudget / (Double(depth + 1) * Double(depth + 1)))
        return min(maxPositions, max(minPositions, affordable))
    }

    /// Adam's learning rate, in grid steps of the weight (cosine-annealed to zero).
    static let learningRate = 0.05

    /// Finetunes the weights and biases of every quantized layer of `graph` over `calibration`'s samples.
    ///
    /// - Parameters:
    ///   - plan: the quantization of `graph` (a layer is quantized when its weight is planned).
    ///   - reference: the float model whose outputs are the target (default `graph`);
    ///     after ``BiasCorrection``, the model before it.
    /// - Returns: the graph with finetuned weights (on the plan's grid) and shifted biases
    ///   (same nodes and value names, plus a new bias value for a layer that had none).
    /// - Throws: the errors of running the graph (`kernelMissing`, `invalidArgument`, …).
    public static func apply(
        _ graph: Graph, plan: QuantizationPlan, calibration: CalibrationSet, threads: Int, reference: Graph? = nil
    ) throws -> Graph {
        try apply(graph, reference: reference, plan: plan, samples: calibration.samples, threads: threads).0
    }

    /// One finetuned layer: its output error (sum of squares over the calibration
    /// samples) with plainly quantized weights and after finetuning.
    package struct Result: Sendable {
        /// The layer's node name.
        package var layer: String
        /// Sum of squared output errors with plainly quantized weights (and the old bias).
        package var errorBefore: Double
        /// The same after finetuning (never larger).
        package var errorAfter: Double
    }

    /// Finetunes every quantized layer of `graph` over `samples` (the first ``maxSamples``).
    ///
    /// - Parameter reference: the float model whose outputs are the target (default
    ///   `graph`); after ``BiasCorrection``, the model before it.
    ///
    /// - Returns: the finetuned graph (weights on the plan's grid, biases shifted; a new
    ///   bias value for a layer that had none) and one ``Result`` per layer.
    /// - Throws: `missingInput` for a sample without a required input, and what running
    ///   the graph throws.
    package static func apply(
        _ graph: Graph, reference: Graph? = nil, plan: QuantizationPlan, samples: [[String: Tensor]], threads: Int
    ) throws -> (Graph, [Result]) {
        let samples = Array(samples.prefix(maxSamples))
        guard !samples.isEmpty else { return (graph, []) }
        var results: [Result] = []
        let finetuned = try LockstepExecution.run(
            graph, reference: reference, plan: plan, samples: samples, threads: threads
        ) { visit in
            let layer = visit.layer
            guard var bias = layer.editableBias(in: RewriteView(visit.graph)),
                let statistics = try statistics(visit, bias: bias),
                var weights = visit.graph.initializers[layer.weight]?.doubleScalars()
            else { return visit.graph }
            let channelOf = PlanFakeQuantization.channelIndex(visit.weightQuantization, shape: layer.weightShape)
            let frozen = largestLevels(weights, visit.weightQuantization, channelOf: channelOf)
            var shifts = [Double](repeating: 0, count: layer.outputChannels)
            var before = 0.0
            var after = 0.0
            for (group, groupStatistics) in statistics.enumerated() {
                let outputs = (group * groupStatistics.channels)..<((group + 1) * groupStatistics.channels)
                let problem = GroupProblem(
                    statistics: groupStatistics, quantization: visit.weightQuantization,
                    indices: outputs.map { output in
                        (0..<layer.depth).map { layer.weightIndex(output: output, row: $0) }
                    },
                    channelOf: channelOf, frozen: frozen)
                let solution = problem.optimize(initial: weights, steps: maxSteps)
                for (m, output) in outputs.enumerated() {
                    for (row, index) in problem.indices[m].enumerated() { weights[index] = solution.weights[m][row] }
                    shifts[output] = solution.shifts[m]
                }
                before += solution.errorBefore
                after += solution.errorAfter
            }
            bias.add(shifts)
            guard let updated = layer.replacingWeight(weights, in: visit.graph),
                let result = layer.settingBias(bias, in: updated)
            else { return visit.graph }
            results.append(Result(layer: visit.node.name, errorBefore: before, errorAfter: after))
            return result
        }
        return (finetuned, results)
    }

    /// With float scales, the weights at the largest quantized level of each scale channel
    /// (flat indices): they keep their float values, so that a scale derived again from the
    /// range (`max |w| / qmax`) is the very one the others were tuned on. Power-of-two grids need
    /// none: a fix position derived again from weights on the grid is the same or finer.
    static func largestLevels(_ weights: [Double], _ quantization: TensorQuantization, channelOf: (Int) -> Int)
        -> Set<Int>
    {
        guard quantization.fixPosition == nil else { return [] }
        var largest: [Int: Double] = [:]
        let levels = weights.indices.map { index in
            let channel = channelOf(index)
            let level = Swift.abs(quantization.fakeQuantized(weights[index], channel: channel))
                / quantization.grid(channel).scale
            largest[channel] = max(largest[channel] ?? 0, level)
            return level
        }
        return Set(
            weights.indices.filter { levels[$0] > 0 && levels[$0] >= (largest[channelOf($0)] ?? 0) * (1 - 1e-6) })
    }
}

/// The optimization of one group of a layer: the ``GroupStatistics`` objective plus a ridge
/// `λ ‖w − w_float‖²` that holds the weights where the calibration data does not pin them
/// down. With `P` positions and `depth` inputs, `λ = (depth + 1) · mean_r G_rr / P` — the
/// weight of `depth + 1` average positions — is negligible when `P ≫ depth` and keeps a
/// layer that sees few positions (a classifier `Gemm` on a handful of samples, whose least
/// squares problem is underdetermined) from fitting the samples instead of the model.
private struct GroupProblem {
    let statistics: GroupStatistics
    let quantization: TensorQuantization
    /// For output channel `m` of the group and row `r`, the flat weight index.
    let indices: [[Int]]
    /// The plan's channel of a flat weight index (per-channel scales).
    let channelOf: (Int) -> Int
    /// Flat weight indices that keep their plain quantization.
    let frozen: Set<Int>

    struct Solution {
        var weights: [[Double]]
        var shifts: [Double]
        var errorBefore: Double
        var errorAfter: Double
    }

    private let depth: Int
    private let channels: Int
    /// Positions seen: `G`'s bias-by-bias entry.
    private let positions: Double
    private let ridge: Double

    init(
        statistics: GroupStatistics, quantization: TensorQuantization, indices: [[Int]],
        channelOf: @escaping (Int) -> Int, frozen: Set<Int>
    ) {
        self.statistics = statistics
        self.quantization = quantization
        self.indices = indices
        self.channelOf = channelOf
        self.frozen = frozen
        let (depth, rows) = (statistics.depth, statistics.depth + 1)
        self.depth = depth
        channels = statistics.channels
        positions = statistics.gram[rows * rows - 1]
        let trace = (0..<depth).reduce(0.0) { $0 + statistics.gram[$1 * rows + $1] }
        ridge = positions > 0 ? Double(rows) * trace / Double(max(depth, 1)) / positions : 0
    }

    /// Adam on latent weights (straight-through quantization), keeping per output channel
    /// the best quantized weights seen, with the exact bias shift for them.
    ///
    /// Weights are laid out by column: element `(r, m)` at `r · channels + m`.
    func optimize(initial: [Double], steps: Int) -> Solution {
        let (gram, cross, targetSquares) = (statistics.gram, statistics.cross, statistics.targetSquares)
        let (depth, channels, positions, ridge) = (self.depth, self.channels, self.positions, self.ridge)
        let rows = depth + 1
        let count = depth * channels
        let channelOfElement = (0..<count).map { channelOf(indices[$0 % channels][$0 / channels]) }
        let anchor = (0..<count).map { initial[indices[$0 % channels][$0 / channels]] }
        let grids = channelOfElement.map { quantization.grid($0) }
        let (gridStep, zeroPoint) = (grids.map(\.scale), grids.map(\.zeroPoint))
        let (lowest, highest) = (
            Double(quantization.integerRange.lowerBound), Double(quantization.integerRange.upperBound)
        )
        // Symmetric bounds: a weight at −128·step would make a range-derived fix position coarser.
        let upper = (0..<count).map { (highest - zeroPoint[$0]) * gridStep[$0] }
        let lower = (0..<count).map { max((lowest - zeroPoint[$0]) * gridStep[$0], -upper[$0]) }
        let plain = (0..<count).map { quantization.fakeQuantized(anchor[$0], channel: channelOfElement[$0]) }
        let isFrozen = (0..<count).map { frozen.contains(indices[$0 % channels][$0 / channels]) }
        let roundMode = quantization.roundMode
        var latent = anchor
        var quantized = plain
        var best = plain
        var bestObjective = (0..<channels).map { objective(plain, anchor, ridge, channel: $0) }
        // G · [w_q; 0] (the bias shift enters analytically); row `depth` is Σ_p a_pᵀ w_q.
        // Kept up to date as weights change grid points: few do per step.
        var product = [Double](repeating: 0, count: rows * channels)
        for row in 0..<rows {
            for r in 0..<depth where gram[row * rows + r] != 0 {
                for m in 0..<channels {
                    product[row * channels + m] += gram[row * rows + r] * quantized[r * channels + m]
                }
            }
        }
        var momentum = [Double](repeating: 0, count: count)
        var velocity = momentum
        var changed = [Bool](repeating: false, count: channels)
        let (beta1, beta2, epsilon) = (0.9, 0.999, 1e-12)
        for step in 0..<steps {
            let rate = FastFinetune.learningRate * 0.5 * (1 + cos(Double.pi * Double(step) / Double(steps)))
            let (correction1, correction2) = (1 - pow(beta1, Double(step + 1)), 1 - pow(beta2, Double(step + 1)))
            for m in 0..<channels {
                let targetSum = cross[depth * channels + m]
                let shift = positions > 0 ? (targetSum - product[depth * channels + m]) / positions : 0
                if changed[m] {
                    // θᵀGθ − 2θᵀc + Σt² + λ‖w − w_float‖², from the product.
                    var value =
                        targetSquares[m] - 2 * shift * targetSum + positions * shift * shift
                        + 2 * shift * product[depth * channels + m]
                    for r in 0..<depth {
                        let element = r * channels + m
                        let distance = quantized[element] - anchor[element]
                        value +=
                            quantized[element] * (product[element] - 2 * cross[element]) + ridge * distance * distance
                    }
                    if value < bestObjective[m] {
                        bestObjective[m] = value
                        for r in 0..<depth { best[r * channels + m] = quantized[r * channels + m] }
                    }
                    changed[m] = false
                }
                for r in 0..<depth where !isFrozen[r * channels + m] {
                    let element = r * channels + m
                    let residual = product[element] + gram[r * rows + depth] * shift - cross[element]
                    let gradient = 2 * (residual + ridge * (quantized[element] - anchor[element]))
                    momentum[element] = beta1 * momentum[element] + (1 - beta1) * gradient
                    velocity[element] = beta2 * velocity[element] + (1 - beta2) * gradient * gradient
                    let adaptive = (velocity[element] / correction2).squareRoot() + epsilon
                    let moved = latent[element] - rate * gridStep[element] * (momentum[element] / correction1) / adaptive
                    latent[element] = min(max(moved, lower[element]), upper[element])
                }
            }
            // The forward quantization, on the plan's grid (as `fakeQuantized` computes it).
            for element in 0..<count {
                let level = min(
                    max(roundMode.round(latent[element] / gridStep[element]) + zeroPoint[element], lowest), highest)
                let value = (level - zeroPoint[element]) * gridStep[element]
                let change = value - quantized[element]
                guard change != 0 else { continue }
                quantized[element] = value
                let (r, m) = (element / channels, element % channels)
                changed[m] = true
                for row in 0..<rows { product[row * channels + m] += gram[row * rows + r] * change }
            }
        }
        // Exact (double) objectives decide: the best seen, or plain quantization if better.
        var solution = Solution(weights: [], shifts: [], errorBefore: 0, errorAfter: 0)
        for m in 0..<channels {
            let column = { (weights: [Double]) in (0..<depth).map { weights[$0 * channels + m] } }
            let chosen =
                objective(best, anchor, ridge, channel: m) <= objective(plain, anchor, ridge, channel: m)
                ? column(best) : column(plain)
            let shift = optimalShift(chosen, channel: m)
            // Frozen weights keep their float value (whose quantization `chosen` holds).
            solution.weights.append((0..<depth).map { isFrozen[$0 * channels + m] ? anchor[$0 * channels + m] : chosen[$0] })
            solution.shifts.append(shift)
            solution.errorBefore += error(column(plain), shift: 0, channel: m)
            solution.errorAfter += error(chosen, shift: shift, channel: m)
        }
        return solution
    }

    /// Channel `m`'s error with the exact shift, plus the ridge (weights by column).
    private func objective(_ weights: [Double], _ anchor: [Double], _ ridge: Double, channel m: Int) -> Double {
        let column = (0..<depth).map { weights[$0 * channels + m] }
        let distance = (0..<depth).reduce(0.0) { total, r in
            let difference = weights[r * channels + m] - anchor[r * channels + m]
            return total + difference * difference
        }
        return error(column, shift: optimalShift(column, channel: m), channel: m) + ridge * distance
    }

    /// `Σ_p (wᵀ a_p + δ − t_{p,m})² = θᵀ G θ − 2 θᵀ c_m + Σ t²` for `θ = (w, δ)`.
    private func error(_ weights: [Double], shift: Double, channel m: Int) -> Double {
        let rows = depth + 1
        let theta = weights + [shift]
        var total = statistics.targetSquares[m]
        for r in 0..<rows {
            var row = 0.0
            for c in 0..<rows { row += statistics.gram[r * rows + c] * theta[c] }
            total += theta[r] * (row - 2 * statistics.cross[r * channels + m])
        }
        return total
    }

    /// The bias shift minimizing the error for `weights`: `(Σ t − (Σ a)ᵀ w) / P`.
    private func optimalShift(_ weights: [Double], channel m: Int) -> Double {
        guard positions > 0 else { return 0 }
        let rows = depth + 1
        var sum = statistics.cross[depth * channels + m]
        for r in 0..<depth { sum -= statistics.gram[depth * rows + r] * weights[r] }
        return sum / positions
    }
}
