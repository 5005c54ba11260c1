import KilnCore
import KilnKernels

/// A convolution's output stage (`FixedPoint.convolution`) with its per-layer and
/// per-channel constants hoisted, applied to a row of int32 accumulators at once.
///
/// `FixedPoint.convolution` defines the result; this computes the same integer for every
/// accumulator: `total = 2·acc + alignedBias` is exact in 64 bits (`|2·acc| ≤ 2^32`,
/// `|alignedBias| ≤ 2^41`), and for a right shift `s` in `1...55` the stage is
///
/// - no activation, ReLU, ReLU6: `clamp((total + 2^(s-1)) >> s, lower, upper)` — round half
///   up is `⌊(v + half) / 2^s⌋`, rounding is monotone and maps 0 to 0 and `96·2^s` to 96, so
///   ReLU is the clamp at 0 and ReLU6 (output position ≤ 4) the clamp at 96;
/// - LeakyReLU: the same for `total ≥ 0`, `(26·total + 2^(s+7)) >> (s+8)` below.
///
/// Other shifts (a left shift, or beyond 55) call `FixedPoint.convolution` per element.
/// Average pooling reuses the stage with `acc · m` in place of `2·acc` (``averagePool``).
struct ConvOutputStage: Sendable {
    /// How the stage computes.
    enum Kind: Sendable {
        /// Round, then clamp to `lower...upper`, in 32 bits: `(acc + c_j) >> (s − 1)` with
        /// `c_j = ⌊(alignedBias_j + 2^(s−1)) / 2⌋` (nested floors: exact), when every
        /// accumulator bound plus `|c_j|` stays below 2^31.
        case clamp32
        /// Round, then clamp to `lower...upper`.
        case clamp
        /// LeakyReLU: negative totals scaled by 26/256.
        case leaky
        /// `FixedPoint.convolution` per element.
        case exact
    }

    private(set) var kind: Kind
    /// Per output channel: `alignedBias(bias)` (0 without a bias).
    let biasTerms: [Int64]
    /// Per output channel, for ``Kind/clamp32``: `⌊(alignedBias + 2^(s−1)) / 2⌋`.
    var offsets32: [Int32] = []
    /// The accumulator's factor (2 for a convolution, the multiplier for average pooling).
    let scale: Int64
    /// The right shift.
    let shift: Int
    let lower: Int64
    let upper: Int64
    // The parameters, for the exact path.
    let bias: [Int64]?
    let shiftBias: Int
    let shiftCut: Int
    let activation: FixedPoint.Activation?
    let outputPosition: Int

    /// The stage of a convolution with `channels` output channels whose accumulators are at
    /// most `accumulatorBound` in magnitude (`K · 2^14`; `nil`: any int32).
    init(
        channels: Int, bias: [Int64]?, shiftBias: Int, shiftCut: Int, activation: FixedPoint.Activation?,
        outputPosition: Int, accumulatorBound: Int? = nil
    ) {
        self.bias = bias
        self.shiftBias = shiftBias
        self.shiftCut = shiftCut
        self.activation = activation
        self.outputPosition = outputPosition
        scale = 2
        shift = shiftCut + 1
        biasTerms = (0..<channels).map { channel in
            guard let bias, bias.indices.contains(channel) else { return 0 }
            return FixedPoint.alignedBias(bias[channel], shiftBias: shiftBias)
        }
        let fast = (1...55).contains(shift)
        switch activation {
        case nil: (kind, lower, upper) = (fast ? .clamp : .exact, -128, 127)
        case .relu: (kind, lower, upper) = (fast ? .clamp : .exact, 0, 127)
        case .relu6: (kind, lower, upper) = (fast ? .clamp : .exact, 0, outputPosition <= 4 ? 96 : 127)
        case .leakyRelu: (kind, lower, upper) = (fast ? .leaky : .exact, -128, 127)
        }
        if kind == .clamp, shift <= 31, let accumulatorBound {
            let half = Int64(1) << Int64(shift - 1)
            let offsets = biasTerms.map { ($0 + half) >> 1 }
            let largest = offsets.map { $0.magnitude }.max() ?? UInt64(half >> 1)
            if UInt64(accumulatorBound) + max(largest, UInt64(half >> 1)) < UInt64(Int32.max) {
                kind = .clamp32
                // Without a bias every channel has the same offset; one per channel all the
                // same, so the native stage reads offsets by column either way.
                offsets32 = offsets.isEmpty
                    ? [Int32](repeating: Int32(half >> 1), count: max(1, channels)) : offsets.map { Int32($0) }
            }
        }
    }

    /// The stage of average pooling (`FixedPoint.averagePool`): `sum · m`, shifted by
    /// `s + p_in − p_out`, no activation.
    init(averagePoolKernel kernel: (Int, Int), inputPosition: Int, outputPosition: Int) {
        let (multiplier, poolShift) = FixedPoint.averagePoolMultiplier(kernelHeight: kernel.0, kernelWidth: kernel.1)
        scale = Int64(multiplier)
        shift = poolShift + inputPosition - outputPosition
        biasTerms = []
        bias = nil
        (shiftBias, shiftCut, activation) = (0, shift, nil)
        self.outputPosition = outputPosition
        (kind, lower, upper) = ((1...55).contains(shift) ? .clamp : .exact, -128, 127)
    }

    /// `out[r · ldo + j] = stage(acc[r · lda + j])` for `rows` rows and output channels
    /// `first ..< first + count`: ``Kind/clamp32`` in native code (`isa`), the others by row.
    func apply(
        rows: Int, _ acc: UnsafePointer<Int32>, lda: Int, count: Int, first: Int, to out: UnsafeMutablePointer<Int8>,
        ldo: Int, isa: NativeKernels.ISA
    ) {
        withNative(first: first, count: count) { native in
            guard let native else {
                for r in 0..<rows { apply(acc + r * lda, count: count, first: first, to: out + r * ldo) }
                return
            }
            NativeInt8NHWC.requantize(
                isa: isa, rows: rows, n: count, acc: acc, lda: lda, stage: native, out: out, ldo: ldo)
        }
    }

    /// Runs `body` with the stage of output channels `first ..< first + count` for the native
    /// kernels, or nil when it is not ``Kind/clamp32``.
    func withNative<T>(first: Int, count: Int, _ body: (NativeInt8NHWC.Stage?) -> T) -> T {
        guard kind == .clamp32, first >= 0, first + count <= offsets32.count else { return body(nil) }
        return offsets32.withUnsafeBufferPointer { offsets in
            guard let base = offsets.baseAddress else { return body(nil) }
            return body(
                NativeInt8NHWC.Stage(
                    offsets: base + first, shift: shift - 1, lower: Int32(truncatingIfNeeded: lower),
                    upper: Int32(truncatingIfNeeded: upper)))
        }
    }

    /// `out[j] = stage(acc[j])` for output channels `first ..< first + count`.
    func apply(_ acc: UnsafePointer<Int32>, count: Int, first: Int, to out: UnsafeMutablePointer<Int8>) {
        let (scale, shift, lower, upper) = (scale, shift, lower, upper)
        biasTerms.withUnsafeBufferPointer { terms in
            let hasBias = !terms.isEmpty
            switch kind {
            case .clamp32:
                offsets32.withUnsafeBufferPointer { offsets in
                    guard let base = offsets.baseAddress else { return }
                    let (lower, upper) = (Int32(truncatingIfNeeded: lower), Int32(truncatingIfNeeded: upper))
                    let shift = Int32(shift - 1)
                    if hasBias {
                        let offsets = base + first
                        for j in 0..<count {
                            let rounded = (acc[j] &+ offsets[j]) &>> shift
                            out[j] = Int8(truncatingIfNeeded: min(max(rounded, lower), upper))
                        }
                    } else {
                        let offset = base[0]
                        for j in 0..<count {
                            let rounded = (acc[j] &+ offset) &>> shift
                            out[j] = Int8(truncatingIfNeeded: min(max(rounded, lower), upper))
                        }
                    }
                }
            case .clamp:
                let half = Int64(1) << Int64(shift - 1)
                if let terms = terms.baseAddress, hasBias {
                    let terms = terms + first
                    for j in 0..<count {
                        let total = scale &* Int64(acc[j]) &+ terms[j]
                        let rounded = (total &+ half) >> Int64(shift)
                        out[j] = Int8(truncatingIfNeeded: min(max(rounded, lower), upper))
                    }
                } else {
                    for j in 0..<count {
                        let rounded = (scale &* Int64(acc[j]) &+ half) >> Int64(shift)
                        out[j] = Int8(truncatingIfNeeded: min(max(rounded, lower), upper))
                    }
                }
            case .leaky:
                let half = Int64(1) << Int64(shift - 1)
                let leakyShift = shift + FixedPoint.leakyReluSlope.shift
                let leakyHalf = Int64(1) << Int64(leakyShift - 1)
                let slope = FixedPoint.leakyReluSlope.numerator
                for j in 0..<count {
                    let total = scale &* Int64(acc[j]) &+ (hasBias ? terms[first + j] : 0)
                    let positive = (total &+ half) >> Int64(shift)
                    let negative = (total &* slope &+ leakyHalf) >> Int64(leakyShift)
                    out[j] = Int8(truncatingIfNeeded: min(max(total < 0 ? negative : positive, lower), upper))
                }
            case .exact:
                for j in 0..<count { out[j] = Int8(exact(acc[j], channel: first + j)) }
            }
        }
    }

    /// One element through the `FixedPoint` function the stage stands for.
    func exact(_ acc: Int32, channel: Int) -> Int {
        guard scale == 2 else {
            return FixedPoint.requantize(Int64(acc) * scale, shift: shift, outputPosition: outputPosition)
        }
        return FixedPoint.convolution(
            accumulator: Int64(acc), bias: bias.map { $0[channel] }, shiftBias: shiftBias, shiftCut: shiftCut,
            activation: activation, outputPosition: outputPosition)
    }
}
