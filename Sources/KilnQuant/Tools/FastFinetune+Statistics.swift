import KilnCore
import KilnIR
import KilnKernels

/// The least-squares statistics of one group of a layer over the calibration samples.
///
/// Every output position `p` of the group sees a column `a_p` of the quantized-path input
/// (`depth` values: the im2col column of a `Conv`, the input row of a `Gemm` times
/// `alpha`) followed by a 1 for the bias; output channel `m` should produce
/// `t_{p,m}`, the float model's output minus the layer's current bias. Then for weights
/// `w_m` and a bias shift `δ_m`
///
///     Σ_p (w_mᵀ a_p + δ_m − t_{p,m})² = θ_mᵀ G θ_m − 2 θ_mᵀ c_m + Σ_p t_{p,m}²,   θ_m = (w_m, δ_m)
///
/// with `G = Σ_p [a_p; 1][a_p; 1]ᵀ` and `c_m = Σ_p [a_p; 1] t_{p,m}`: a pass over the
/// data builds them once, and each optimization step then costs `depth² · channels`,
/// whatever the number of samples and positions.
struct GroupStatistics {
    /// Rows of `a` (without the bias row).
    let depth: Int
    /// Output channels of the group.
    let channels: Int
    /// `G`, `(depth + 1)²`, row-major; the last row and column belong to the bias.
    var gram: [Double]
    /// `c`, `(depth + 1) × channels`, row-major.
    var cross: [Double]
    /// `Σ_p t_{p,m}²` per channel.
    var targetSquares: [Double]

    init(depth: Int, channels: Int) {
        self.depth = depth
        self.channels = channels
        gram = Array(repeating: 0, count: (depth + 1) * (depth + 1))
        cross = Array(repeating: 0, count: (depth + 1) * channels)
        targetSquares = Array(repeating: 0, count: channels)
    }

    /// Adds the positions of one block: `columns` is `(depth + 1) × positions` (the last
    /// row all ones), `targets` is `channels × positions`.
    mutating func accumulate(columns: UnsafePointer<Float>, targets: UnsafePointer<Float>, positions: Int, threads: Int)
    {
        let rows = depth + 1
        var gramBlock = [Float](repeating: 0, count: rows * rows)
        var crossBlock = [Float](repeating: 0, count: rows * channels)
        gramBlock.withUnsafeMutableBufferPointer { block in
            guard let base = block.baseAddress else { return }
            Gemm.multiply(
                m: rows, n: rows, k: positions, alpha: 1, a: columns, lda: positions, transA: false,
                b: columns, ldb: positions, transB: true, beta: 0, c: base, ldc: rows, threads: threads)
        }
        crossBlock.withUnsafeMutableBufferPointer { block in
            guard let base = block.baseAddress else { return }
            Gemm.multiply(
                m: rows, n: channels, k: positions, alpha: 1, a: columns, lda: positions, transA: false,
                b: targets, ldb: positions, transB: true, beta: 0, c: base, ldc: channels, threads: threads)
        }
        for index in gram.indices { gram[index] += Double(gramBlock[index]) }
        for index in cross.indices { cross[index] += Double(crossBlock[index]) }
        for channel in 0..<channels {
            var sum = 0.0
            for position in 0..<positions {
                let value = Double(targets[channel * positions + position])
                sum += value * value
            }
            targetSquares[channel] += sum
        }
    }
}

extension FastFinetune {
    /// The statistics of each group of the visited layer; `nil` when the layer's input is
    /// not float32 or a `Conv` has more than three spatial axes.
    static func statistics(_ visit: LockstepExecution.Visit, bias: LinearLayer.EditableBias) throws
        -> [GroupStatistics]?
    {
        let layer = visit.layer
        let groupChannels = layer.outputChannels / layer.group
        var groups = Array(repeating: GroupStatistics(depth: layer.depth, channels: groupChannels), count: layer.group)
        let samples = visit.quantizedInputs.count
        for (sample, (input, output)) in zip(visit.quantizedInputs, visit.floatOutputs).enumerated() {
            guard input.dtype == .float32, output.dtype == .float32 else { return nil }
            let target = output.scalars(as: Float.self)
            switch layer.kind {
            case .conv:
                let geometry = try LinearLayer.convGeometry(visit.node, input: input.shape, weight: layer.weightShape)
                let expected = input.shape[0] * layer.outputChannels * Tensor.elementCount(geometry.output)
                guard geometry.rank <= 3, input.shape[1] == layer.inputChannels, target.count == expected else {
                    return nil
                }
                let limit = positionLimit(depth: layer.depth)
                let share = (limit + samples * input.shape[0] - 1) / (samples * input.shape[0])
                let sampling = PositionSampling(
                    positions: Tensor.elementCount(geometry.output), limit: share, offset: sample)
                accumulateConv(input, target, layer, bias, geometry, sampling, &groups, threads: visit.threads)
            case .gemm(let transA, _, let alpha, _):
                guard input.rank == 2, input.shape[transA ? 0 : 1] == layer.depth,
                    target.count == input.shape[transA ? 1 : 0] * layer.outputChannels
                else { return nil }
                accumulateGemm(
                    input, target, transA: transA, alpha: Float(alpha), layer, bias, &groups[0], threads: visit.threads)
            }
        }
        return groups
    }

    private static func accumulateConv(
        _ input: Tensor, _ target: [Float], _ layer: LinearLayer, _ bias: LinearLayer.EditableBias,
        _ geometry: WindowGeometry, _ sampling: PositionSampling, _ groups: inout [GroupStatistics], threads: Int
    ) {
        let (batch, channels) = (input.shape[0], input.shape[1])
        let groupInputs = channels / layer.group
        let groupOutputs = layer.outputChannels / layer.group
        let inputPixels = Tensor.elementCount(geometry.input)
        let positions = sampling.positions
        let kept = sampling.kept
        let depth = layer.depth
        var columns = [Float](repeating: 0, count: depth * positions)
        var selected = [Float](repeating: 1, count: (depth + 1) * kept.count)
        var targets = [Float](repeating: 0, count: groupOutputs * kept.count)
        input.withUnsafeBufferPointer(as: Float.self) { x in
            guard let xBase = x.baseAddress else { return }
            for image in 0..<batch {
                for group in 0..<layer.group {
                    columns.withUnsafeMutableBufferPointer { buffer in
                        guard let base = buffer.baseAddress else { return }
                        let source = xBase + (image * channels + group * groupInputs) * inputPixels
                        Im2Col.fill(
                            base, from: source, channels: groupInputs, window: geometry.padded3D, threads: threads)
                    }
                    for row in 0..<depth {
                        for (column, position) in kept.enumerated() {
                            selected[row * kept.count + column] = columns[row * positions + position]
                        }
                    }
                    for m in 0..<groupOutputs {
                        let channel = group * groupOutputs + m
                        let shift = Float(bias.multiplier * bias.values[channel])
                        let offset = (image * layer.outputChannels + channel) * positions
                        for (column, position) in kept.enumerated() {
                            targets[m * kept.count + column] = target[offset + position] - shift
                        }
                    }
                    groups[group].accumulate(
                        columns: selected, targets: targets, positions: kept.count, threads: threads)
                }
            }
        }
    }

    private static func accumulateGemm(
        _ input: Tensor, _ target: [Float], transA: Bool, alpha: Float, _ layer: LinearLayer,
        _ bias: LinearLayer.EditableBias, _ statistics: inout GroupStatistics, threads: Int
    ) {
        let x = input.scalars(as: Float.self)
        let (depth, outputs) = (layer.depth, layer.outputChannels)
        let rows = transA ? input.shape[1] : input.shape[0]
        var columns = [Float](repeating: 1, count: (depth + 1) * rows)
        for k in 0..<depth {
            for row in 0..<rows { columns[k * rows + row] = alpha * x[transA ? k * rows + row : row * depth + k] }
        }
        let biasRows = bias.values.count / max(outputs, 1)
        var targets = [Float](repeating: 0, count: outputs * rows)
        for m in 0..<outputs {
            for row in 0..<rows {
                let shift = bias.multiplier * bias.values[(biasRows == 1 ? 0 : row) * outputs + m]
                targets[m * rows + row] = target[row * outputs + m] - Float(shift)
            }
        }
        statistics.accumulate(columns: columns, targets: targets, positions: rows, threads: threads)
    }
}

/// Which output positions of one image enter the statistics: at most `limit`, evenly
/// spaced, starting at an offset that moves with the sample so that samples together
/// cover different positions.
struct PositionSampling {
    let positions: Int
    let kept: [Int]

    init(positions: Int, limit: Int, offset: Int) {
        self.positions = positions
        guard limit < positions, limit > 0 else {
            kept = Array(0..<positions)
            return
        }
        let stride = Double(positions) / Double(limit)
        let start = Double(offset % max(Int(stride), 1))
        kept = (0..<limit).map { min(positions - 1, Int(start + Double($0) * stride)) }
    }
}
