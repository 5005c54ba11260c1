import KilnCore

/// ONNX normalizations: BatchNormalization (inference), InstanceNormalization and
/// LayerNormalization. Statistics are accumulated in `Double`.
package enum Normalization {
    /// `y = (x − mean[c]) / sqrt(var[c] + epsilon) · scale[c] + bias[c]` over an
    /// `N × C × …` input; the four parameters are `[C]` vectors of any float dtype.
    ///
    /// - Throws: `shapeMismatch` for parameters of the wrong size, `kernelMissing` for a
    ///   non-float dtype.
    package static func batchNormalization(
        input: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Float,
        output: inout Tensor, threads: Int
    ) throws {
        switch input.dtype {
        case .float32: try batchNormalization(input, scale, bias, mean, variance, epsilon, &output, threads, as: Float.self)
        case .float64: try batchNormalization(input, scale, bias, mean, variance, epsilon, &output, threads, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: try batchNormalization(input, scale, bias, mean, variance, epsilon, &output, threads, as: Float16.self)
        #endif
        default: throw KilnError(.kernelMissing, "[BatchNormalization] no \(input.dtype) kernel")
        }
    }

    private static func batchNormalization<T: NNScalar>(
        _ input: Tensor, _ scale: Tensor, _ bias: Tensor, _ mean: Tensor, _ variance: Tensor,
        _ epsilon: Float, _ output: inout Tensor, _ threads: Int, as type: T.Type
    ) throws {
        let channels = input.rank >= 2 ? input.shape[1] : 1
        let planes = input.rank >= 2 ? input.shape[0] * channels : 1
        let pixels = planes > 0 ? input.count / planes : 0
        let parameters = try [scale, bias, mean, variance].map { tensor -> [Double] in
            guard let values = tensor.floatingScalars(as: Double.self), values.count == channels else {
                throw KilnError(.shapeMismatch, "BatchNormalization parameter \(tensor) must be a float vector of \(channels)")
            }
            return values
        }
        // y = x · a + b with a = scale / sqrt(var + ε), b = bias − mean · a.
        let factors = (0..<channels).map { c in parameters[0][c] / (parameters[3][c] + Double(epsilon)).squareRoot() }
        let offsets = (0..<channels).map { c in parameters[1][c] - parameters[2][c] * factors[c] }
        input.withUnsafeBufferPointer(as: T.self) { x in
            output.withUnsafeMutableBufferPointer(as: T.self) { y in
                guard let xBase = x.baseAddress, let yBase = y.baseAddress else { return }
                Parallel.forEach(planes, threads: threads, grain: max(1, 4096 / max(pixels, 1))) { range in
                    for plane in range {
                        let factor = T(factors[plane % channels])
                        let offset = T(offsets[plane % channels])
                        let source = xBase + plane * pixels
                        let target = yBase + plane * pixels
                        for index in 0..<pixels { target[index] = source[index] * factor + offset }
                    }
                }
            }
        }
    }

    /// `y = (x − mean) / sqrt(var + epsilon) · scale[c] + bias[c]`, mean and (population)
    /// variance taken over each `(n, c)` plane of an `N × C × …` input.
    ///
    /// - Throws: `shapeMismatch`, `kernelMissing` for a non-float dtype.
    package static func instanceNormalization(
        input: Tensor, scale: Tensor, bias: Tensor, epsilon: Float, output: inout Tensor, threads: Int
    ) throws {
        guard input.rank >= 2 else {
            throw KilnError(.shapeMismatch, "InstanceNormalization input \(input.shape) needs rank >= 2")
        }
        let channels = input.shape[1]
        guard let scales = scale.floatingScalars(as: Double.self), let biases = bias.floatingScalars(as: Double.self),
            scales.count == channels, biases.count == channels
        else {
            throw KilnError(.shapeMismatch, "InstanceNormalization scale \(scale) and bias \(bias) must be float vectors of \(channels)")
        }
        let planes = input.shape[0] * channels
        let pixels = planes > 0 ? input.count / planes : 0
        try normalizeRows(
            input: input, rows: planes, length: pixels, epsilon: epsilon, output: &output, threads: threads,
            scale: { row, _ in scales[row % channels] }, bias: { row, _ in biases[row % channels] },
            statistics: nil, op: "InstanceNormalization")
    }

    /// LayerNormalization: each row `x[i, …]` of the input viewed as `[outer, inner]`
    /// (split at `axis`) is normalized, then scaled and shifted by `scale`/`bias`, which
    /// broadcast to the trailing `inner` shape. `mean` and `inverseStandardDeviation`,
    /// when given (`outer` elements each), receive the row statistics.
    ///
    /// - Throws: `shapeMismatch`, `kernelMissing` for a non-float dtype.
    package static func layerNormalization(
        input: Tensor, scale: Tensor, bias: Tensor?, axis: Int, epsilon: Float, output: inout Tensor,
        mean: inout Tensor?, inverseStandardDeviation: inout Tensor?, threads: Int
    ) throws {
        let trailing = Array(input.shape[axis...])
        let inner = Tensor.elementCount(trailing)
        let outer = Tensor.elementCount(Array(input.shape[..<axis]))
        func broadcastValues(_ tensor: Tensor, _ name: String) throws -> [Double] {
            guard let values = tensor.floatingScalars(as: Double.self),
                Broadcast.shape([tensor.shape, trailing]) == trailing
            else {
                throw KilnError(.shapeMismatch, "LayerNormalization \(name) \(tensor) does not broadcast to \(trailing)")
            }
            return Broadcast.indices(of: tensor.shape, to: trailing).map { values[$0] }
        }
        let scales = try broadcastValues(scale, "scale")
        let biases = try bias.map { try broadcastValues($0, "bias") }
        var statistics = [Double](repeating: 0, count: 2 * outer)
        if input.dtype == .float32 {
            // float32: statistics accumulated in Double, the row mapped in Float with the
            // per-column scale and bias as plain arrays (vectorizable, no closure per element).
            let gamma = scales.map { Float($0) }
            let beta = (biases ?? [Double](repeating: 0, count: inner)).map { Float($0) }
            input.withUnsafeBufferPointer(as: Float.self) { x in
                output.withUnsafeMutableBufferPointer(as: Float.self) { y in
                    guard let xBase = x.baseAddress, let yBase = y.baseAddress else { return }
                    layerNormFloat(
                        xBase, yBase, rows: outer, length: inner, epsilon: epsilon, scales: gamma, biases: beta,
                        statistics: &statistics, threads: threads)
                }
            }
        } else {
            try normalizeRows(
                input: input, rows: outer, length: inner, epsilon: epsilon, output: &output, threads: threads,
                scale: { _, column in scales[column] }, bias: { _, column in biases?[column] ?? 0 },
                statistics: &statistics, op: "LayerNormalization")
        }
        for (slot, tensor) in [(0, mean), (1, inverseStandardDeviation)] {
            guard let shape = tensor?.shape, let dtype = tensor?.dtype else { continue }
            let values = (0..<outer).map { statistics[2 * $0 + slot] }
            let result: Tensor
            switch dtype {
            case .float64: result = Tensor(shape: shape, scalars: values)
            #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
            case .float16: result = Tensor(shape: shape, scalars: values.map { Float16($0) })
            #endif
            default: result = Tensor(shape: shape, scalars: values.map { Float($0) })
            }
            if slot == 0 { mean = result } else { inverseStandardDeviation = result }
        }
    }

    /// The mean of a row of `length` values and `1 / sqrt(variance + epsilon)`, summed in Double.
    @inline(__always)
    private static func rowStatistics<T: NNScalar>(_ source: UnsafePointer<T>, _ length: Int, _ epsilon: Float)
        -> (mean: Double, inverse: Double)
    {
        var sum = 0.0
        for index in 0..<length { sum += Double(source[index]) }
        let mean = sum / Double(length)
        var squares = 0.0
        for index in 0..<length {
            let deviation = Double(source[index]) - mean
            squares += deviation * deviation
        }
        return (mean, 1 / (squares / Double(length) + Double(epsilon)).squareRoot())
    }

    /// float32 layer normalization of `rows` rows of `length` from `x` into `y` (which may
    /// be `x`): mean and variance summed in Double, then
    /// `y = (x − mean) · invStd · scales[i] + biases[i]` in Float (`length` scales and biases).
    /// `statistics`, when given, receives `[mean, invStd]` per row.
    package static func layerNormFloat(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, length: Int, epsilon: Float,
        scales: UnsafePointer<Float>, biases: UnsafePointer<Float>, statistics: UnsafeMutablePointer<Double>?,
        threads: Int
    ) {
        guard length > 0 else { return }
        @inline(__always)
        func finish(_ row: Int, _ mean: Double, _ inverse: Double) {
            let source = x + row * length
            let target = y + row * length
            let (m, s) = (Float(mean), Float(inverse))
            for index in 0..<length { target[index] = (source[index] - m) * s * scales[index] + biases[index] }
            statistics?[2 * row] = mean
            statistics?[2 * row + 1] = inverse
        }
        Parallel.forEach(rows, threads: threads, grain: max(1, 4096 / length)) { range in
            var row = range.lowerBound
            // Four rows' statistics at once: their Double sums are serial chains that overlap.
            while row + 4 <= range.upperBound {
                let statistics = rowStatistics4(x + row * length, length, epsilon)
                finish(row, statistics.0.mean, statistics.0.inverse)
                finish(row + 1, statistics.1.mean, statistics.1.inverse)
                finish(row + 2, statistics.2.mean, statistics.2.inverse)
                finish(row + 3, statistics.3.mean, statistics.3.inverse)
                row += 4
            }
            while row < range.upperBound {
                let (mean, inverse) = rowStatistics(x + row * length, length, epsilon)
                finish(row, mean, inverse)
                row += 1
            }
        }
    }

    /// ``rowStatistics(_:_:_:)`` of the four consecutive rows at `source`, interleaved
    /// (each row summed in its own order, so the values are the same).
    @inline(__always)
    private static func rowStatistics4(_ source: UnsafePointer<Float>, _ length: Int, _ epsilon: Float) -> (
        (mean: Double, inverse: Double), (mean: Double, inverse: Double), (mean: Double, inverse: Double),
        (mean: Double, inverse: Double)
    ) {
        let (r0, r1, r2, r3) = (source, source + length, source + 2 * length, source + 3 * length)
        var (sum0, sum1, sum2, sum3) = (0.0, 0.0, 0.0, 0.0)
        for index in 0..<length {
            sum0 += Double(r0[index])
            sum1 += Double(r1[index])
            sum2 += Double(r2[index])
            sum3 += Double(r3[index])
        }
        let count = Double(length)
        let (mean0, mean1, mean2, mean3) = (sum0 / count, sum1 / count, sum2 / count, sum3 / count)
        var (squares0, squares1, squares2, squares3) = (0.0, 0.0, 0.0, 0.0)
        for index in 0..<length {
            let (d0, d1) = (Double(r0[index]) - mean0, Double(r1[index]) - mean1)
            let (d2, d3) = (Double(r2[index]) - mean2, Double(r3[index]) - mean3)
            squares0 += d0 * d0
            squares1 += d1 * d1
            squares2 += d2 * d2
            squares3 += d3 * d3
        }
        func inverse(_ squares: Double) -> Double { 1 / (squares / count + Double(epsilon)).squareRoot() }
        return (
            (mean0, inverse(squares0)), (mean1, inverse(squares1)), (mean2, inverse(squares2)),
            (mean3, inverse(squares3))
        )
    }

    /// Normalizes `rows` contiguous rows of `length` elements:
    /// `y = (x − mean) · invStd · scale(row, column) + bias(row, column)`.
    /// `statistics`, when given, receives `[mean, invStd]` per row.
    private static func normalizeRows(
        input: Tensor, rows: Int, length: Int, epsilon: Float, output: inout Tensor, threads: Int,
        scale: (Int, Int) -> Double, bias: (Int, Int) -> Double,
        statistics: UnsafeMutablePointer<Double>?, op: String
    ) throws {
        switch input.dtype {
        case .float32: normalizeRows(input, rows, length, epsilon, &output, threads, scale, bias, statistics, as: Float.self)
        case .float64: normalizeRows(input, rows, length, epsilon, &output, threads, scale, bias, statistics, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: normalizeRows(input, rows, length, epsilon, &output, threads, scale, bias, statistics, as: Float16.self)
        #endif
        default: throw KilnError(.kernelMissing, "[\(op)] no \(input.dtype) kernel")
        }
    }

    private static func normalizeRows<T: NNScalar>(
        _ input: Tensor, _ rows: Int, _ length: Int, _ epsilon: Float, _ output: inout Tensor, _ threads: Int,
        _ scale: (Int, Int) -> Double, _ bias: (Int, Int) -> Double,
        _ statistics: UnsafeMutablePointer<Double>?, as type: T.Type
    ) {
        input.withUnsafeBufferPointer(as: T.self) { x in
            output.withUnsafeMutableBufferPointer(as: T.self) { y in
                guard let xBase = x.baseAddress, let yBase = y.baseAddress, length > 0 else { return }
                Parallel.forEach(rows, threads: threads, grain: max(1, 4096 / length)) { range in
                    for row in range {
                        let source = xBase + row * length
                        let target = yBase + row * length
                        let (mean, inverse) = rowStatistics(source, length, epsilon)
                        for index in 0..<length {
                            let normalized = (Double(source[index]) - mean) * inverse
                            target[index] = T(normalized * scale(row, index) + bias(row, index))
                        }
                        statistics?[2 * row] = mean
                        statistics?[2 * row + 1] = inverse
                    }
                }
            }
        }
    }
}
