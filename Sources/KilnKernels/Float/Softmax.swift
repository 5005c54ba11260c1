import CKilnKernels
import KilnCore

/// ONNX Softmax, LogSoftmax and Hardmax along one axis of a tensor viewed as
/// `[outer, length, inner]`: each of the `outer · inner` lines of `length` elements (stride
/// `inner`) is normalized on its own. (The pre-opset-13 "coerce to 2-D" forms are the
/// special case `inner == 1`.)
package enum Softmax {
    /// Which normalization to apply to each line.
    package enum Kind: Sendable {
        /// `exp(x − max) / Σ exp(x − max)`.
        case softmax
        /// `x − max − log Σ exp(x − max)`.
        case logSoftmax
        /// 1 at the first maximum, 0 elsewhere.
        case hardmax
    }

    /// Normalizes every line of `input` into `output` (same shape and dtype).
    ///
    /// - Precondition: `outer · length · inner == input.count`.
    /// - Throws: `kernelMissing` for a non-float dtype.
    package static func run(
        _ kind: Kind, input: Tensor, outer: Int, length: Int, inner: Int, output: inout Tensor, threads: Int
    ) throws {
        precondition(outer * length * inner == input.count, "Softmax: view [\(outer), \(length), \(inner)] of \(input.shape)")
        switch input.dtype {
        case .float32: run(kind, input, outer, length, inner, &output, threads, as: Float.self)
        case .float64: run(kind, input, outer, length, inner, &output, threads, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: run(kind, input, outer, length, inner, &output, threads, as: Float16.self)
        #endif
        default: throw KilnError(.kernelMissing, "[\(kind)] no \(input.dtype) kernel")
        }
    }

    private static func run<T: NNScalar>(
        _ kind: Kind, _ input: Tensor, _ outer: Int, _ length: Int, _ inner: Int, _ output: inout Tensor,
        _ threads: Int, as type: T.Type
    ) {
        input.withUnsafeBufferPointer(as: T.self) { x in
            output.withUnsafeMutableBufferPointer(as: T.self) { y in
                guard let xBase = x.baseAddress, let yBase = y.baseAddress else { return }
                run(kind, xBase, yBase, outer: outer, length: length, inner: inner, threads: threads)
            }
        }
    }

    /// Normalizes every line of the `[outer, length, inner]` buffer `x` into `y` (which may
    /// be `x`).
    package static func run<T: NNScalar>(
        _ kind: Kind, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, outer: Int, length: Int, inner: Int,
        threads: Int
    ) {
        guard length > 0 else { return }
        let contiguous = kind == .softmax && T.self == Float.self && inner == 1 && NativeKernels.activeISA >= .avx2
        Parallel.forEach(outer * inner, threads: threads, grain: max(1, 2048 / length)) { range in
            if contiguous {
                softmaxLines(
                    UnsafeRawPointer(x).assumingMemoryBound(to: Float.self),
                    UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), lines: range, length: length)
                return
            }
            for line in range {
                let start = (line / inner) * length * inner + line % inner
                normalize(kind, source: x + start, target: y + start, length: length, stride: inner)
            }
        }
    }

    /// Softmax of contiguous float32 lines `lines` (stride 1): each line minus its maximum,
    /// one native vector exp over all of them, then each line divided by its sum (summed in
    /// Double). The exp is elementwise, so one call over many lines equals one per line; the
    /// maxima and sums of four lines run interleaved (each line still in its own order), so
    /// their dependency chains overlap.
    private static func softmaxLines(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, lines: Range<Int>, length: Int
    ) {
        let first = lines.lowerBound * length
        var line = lines.lowerBound
        while line < lines.upperBound {
            if line + 4 <= lines.upperBound {
                let (s0, s1, s2, s3) = (x + line * length, x + (line + 1) * length, x + (line + 2) * length, x + (line + 3) * length)
                var (p0, p1, p2, p3) = (s0[0], s1[0], s2[0], s3[0])
                for index in 1..<length {
                    if s0[index] > p0 { p0 = s0[index] }
                    if s1[index] > p1 { p1 = s1[index] }
                    if s2[index] > p2 { p2 = s2[index] }
                    if s3[index] > p3 { p3 = s3[index] }
                }
                let t = y + line * length
                for index in 0..<length {
                    t[index] = s0[index] - p0
                    t[length + index] = s1[index] - p1
                    t[2 * length + index] = s2[index] - p2
                    t[3 * length + index] = s3[index] - p3
                }
                line += 4
            } else {
                let source = x + line * length
                let target = y + line * length
                var peak = source[0]
                for index in 1..<length where source[index] > peak { peak = source[index] }
                for index in 0..<length { target[index] = source[index] - peak }
                line += 1
            }
        }
        ckiln_vector_math(NativeKernels.activeISA.rawValue, Int32(CKILN_EXP), y + first, y + first, lines.count * length)
        line = lines.lowerBound
        while line < lines.upperBound {
            let t = y + line * length
            if line + 4 <= lines.upperBound {
                var (sum0, sum1, sum2, sum3): (Double, Double, Double, Double) = (0, 0, 0, 0)
                for index in 0..<length {
                    sum0 += Double(t[index])
                    sum1 += Double(t[length + index])
                    sum2 += Double(t[2 * length + index])
                    sum3 += Double(t[3 * length + index])
                }
                let (q0, q1, q2, q3) = (Float(sum0), Float(sum1), Float(sum2), Float(sum3))
                for index in 0..<length {
                    t[index] /= q0
                    t[length + index] /= q1
                    t[2 * length + index] /= q2
                    t[3 * length + index] /= q3
                }
                line += 4
            } else {
                var sum: Double = 0
                for index in 0..<length { sum += Double(t[index]) }
                let total = Float(sum)
                for index in 0..<length { t[index] /= total }
                line += 1
            }
        }
    }

    @inline(__always)
    private static func normalize<T: NNScalar>(
        _ kind: Kind, source: UnsafePointer<T>, target: UnsafeMutablePointer<T>, length: Int, stride: Int
    ) {
        var maximum = source[0]
        var maximumIndex = 0
        for index in 1..<length where source[index * stride] > maximum {
            maximum = source[index * stride]
            maximumIndex = index
        }
        switch kind {
        case .hardmax:
            for index in 0..<length { target[index * stride] = index == maximumIndex ? 1 : 0 }
        case .softmax:
            var sum: T.Accumulator = 0
            for index in 0..<length {
                let value = T.exponential(source[index * stride] - maximum)
                target[index * stride] = value
                sum += T.Accumulator(value)
            }
            // Divide by the rounded sum (one rounding per element, as NumPy does) rather
            // than multiply by 1/sum (two): float16 notices.
            let total = T(sum)
            for index in 0..<length { target[index * stride] /= total }
        case .logSoftmax:
            var sum: T.Accumulator = 0
            for index in 0..<length { sum += T.Accumulator(T.exponential(source[index * stride] - maximum)) }
            let shift = maximum + T.logarithm(T(sum))
            for index in 0..<length { target[index * stride] = source[index * stride] - shift }
        }
    }
}
