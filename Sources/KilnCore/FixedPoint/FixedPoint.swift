import Foundation

/// The DPU's fixed-point arithmetic, stated once.
///
/// A quantized tensor carries a *fix position* `p`: the real value of an integer `q` is
/// `q · 2^-p`. Everything that must agree bit for bit — the quantizer's fake-quant
/// simulation, the DPU emulator, constant folding of quantized graphs — calls these
/// functions; nothing re-derives them.
///
/// Integer pipelines are exact: a value `acc · 2^-s` is rounded with integer shifts, never
/// through floating point, so results do not depend on the host's float rounding.
public enum FixedPoint {
    /// The int8 range.
    public static let int8Range: ClosedRange<Int> = -128...127

    /// Saturates an integer to `range` (int8 by default).
    @inline(__always)
    public static func saturate(_ value: Int, to range: ClosedRange<Int> = int8Range) -> Int {
        min(max(value, range.lowerBound), range.upperBound)
    }

    /// Quantizes a real value at fix position `p`: `saturate(round(x · 2^p))`.
    /// NaN quantizes to 0.
    public static func quantize(
        _ value: Float, fixPosition: Int, mode: RoundMode, range: ClosedRange<Int> = int8Range
    ) -> Int {
        let scaled = Double(value) * exp2(Double(fixPosition))
        guard !scaled.isNaN else { return 0 }
        let rounded = mode.round(scaled)
        if rounded >= Double(range.upperBound) { return range.upperBound }
        if rounded <= Double(range.lowerBound) { return range.lowerBound }
        return Int(rounded)
    }

    /// The real value of `q` at fix position `p`: `q · 2^-p` (exact in `Float` for int8 and
    /// any `p` in the float exponent range).
    @inline(__always)
    public static func dequantize(_ quantized: Int, fixPosition: Int) -> Float {
        Float(quantized) * exp2f(Float(-fixPosition))
    }

    /// `value · 2^-shift` rounded to an integer with `mode`, exactly.
    ///
    /// A negative `shift` multiplies by `2^-shift` (no rounding needed).
    public static func shiftRound(_ value: Int64, by shift: Int, mode: RoundMode = .halfUp) -> Int64 {
        guard shift > 0 else { return value << Int64(-shift) }
        // |value| / 2^63 < 1 rounds to 0 in every mode (Int64.min aside, which no int8 pipeline reaches).
        guard shift < 63 else { return 0 }
        let floor = value >> Int64(shift)  // arithmetic shift: ⌊value / 2^shift⌋
        let remainder = value - (floor << Int64(shift))  // in [0, 2^shift)
        let half = Int64(1) << Int64(shift - 1)
        switch mode {
        case .halfUp:
            return remainder >= half ? floor + 1 : floor
        case .halfToEven:
            if remainder > half { return floor + 1 }
            if remainder < half { return floor }
            return floor & 1 == 0 ? floor : floor + 1
        case .halfAwayFromZero:
            if remainder > half { return floor + 1 }
            if remainder < half { return floor }
            return value < 0 ? floor : floor + 1
        }
    }

    /// The DPU's LeakyReLU slope, 26/256 (= 0.1015625): the only slope it implements.
    public static let leakyReluSlope = (numerator: Int64(26), shift: 8)

    /// The DPU's hard-sigmoid multiplier: `relu6(x + 3) · 2731 / 2^14` (2731/16384 ≈ 1/6).
    public static let hardSigmoidMultiplier = (numerator: Int64(2731), shift: 14)

    /// The real-valued slope the DPU's LeakyReLU applies.
    public static var leakyReluSlopeValue: Float {
        Float(leakyReluSlope.numerator) / Float(1 << leakyReluSlope.shift)
    }

    /// The DPU's average-pool multiplier for a `kernelHeight × kernelWidth` window: the
    /// window sum is multiplied by `multiplier / 2^shift` instead of divided by `kh·kw`.
    ///
    /// Special cases are fixed by the hardware (3×3 → 7/64, 5×5 → 10/256, 6×6/3×6/6×3 →
    /// 7/256, 7×7 → 21/1024, 14×14 → 21/4096); otherwise the shift `s` in
    /// `0 ..< ⌈log2(n · 128)⌉` whose `m = round(2^s / n)` best approximates `1/n` wins (the
    /// first of equals), as Vitis AI's `get_avgpool_dpu_coeff` does.
    public static func averagePoolMultiplier(kernelHeight: Int, kernelWidth: Int) -> (multiplier: Int, shift: Int) {
        switch (kernelHeight, kernelWidth) {
        case (3, 3): return (7, 6)
        case (5, 5): return (10, 8)
        case (6, 6), (3, 6), (6, 3): return (7, 8)
        case (7, 7): return (21, 10)
        case (14, 14): return (21, 12)
        default: break
        }
        let count = max(1, kernelHeight * kernelWidth)
        let limit = Int((log2(Double(count) * 128)).rounded(.up))
        var best = (multiplier: 1, shift: 0)
        var bestError = Double.infinity
        for shift in 0..<max(1, limit) {
            let power = Double(1 << shift)
            let multiplier = Int((power / Double(count)).rounded(.toNearestOrEven))
            let error = Swift.abs(Double(multiplier) / power - 1 / Double(count))
            if error < bestError {
                bestError = error
                best = (multiplier, shift)
            }
        }
        return best
    }
}
