/// The DPU's per-layer integer pipelines, built on ``FixedPoint``'s rounding and saturation:
/// the quantizer's fake-quant simulation and the DPU emulator both compute layers with these
/// functions, so they agree bit for bit. `docs/dpu-arithmetic.md` states the same contract
/// in prose; Vitis AI's CPU reference ops (`conv2d-fix`, `eltwise-fix`, `hard-sigmoid-fix`)
/// are the source.
///
/// Values are integers at fix positions: `q` at position `p` is `q · 2^-p`. Every function
/// is exact (64-bit integers, no floating point) and ends with the DPU's output stage:
/// activation, round half up, saturate to int8.
extension FixedPoint {
    /// An activation the DPU applies before rounding, fused into a conv, gemm or add, or on
    /// its own.
    public enum Activation: String, CaseIterable, Codable, Sendable {
        /// `max(x, 0)`.
        case relu
        /// `min(max(x, 0), 6)`, the clamp at 6 being the DPU's `96` (6 at position 4): applied
        /// when the output position is ≤ 4, otherwise left to saturation.
        case relu6
        /// `x` for `x ≥ 0`, `x · 26/256` below.
        case leakyRelu = "leaky_relu"
    }

    /// The output stage: `total · 2^-shift`, then `activation` (exactly), rounded half up
    /// and saturated to int8.
    ///
    /// - Parameters:
    ///   - total: the integer result before the output shift.
    ///   - shift: the right shift to the output position (negative: a left shift).
    ///   - activation: applied before rounding.
    ///   - outputPosition: the output's fix position (ReLU6 clamps at 96 when it is ≤ 4).
    public static func requantize(
        _ total: Int64, shift: Int, activation: Activation? = nil, outputPosition: Int
    ) -> Int {
        var value = total
        var shift = shift
        if shift < 0 {
            // An exact left shift; beyond 2^40 every activation's result saturates the same way.
            value = shiftedLeft(value, by: -shift, limit: 40)
            shift = 0
        }
        switch activation {
        case nil:
            break
        case .relu:
            value = max(value, 0)
        case .leakyRelu:
            if value < 0 {
                value = product(value, leakyReluSlope.numerator)
                shift += leakyReluSlope.shift
            }
        case .relu6:
            value = max(value, 0)
            // The DPU clamps tmp at 6 << 4 = 96 when the output position is ≤ 4.
            if outputPosition <= 4, shift < 56, value >= Int64(96) << Int64(shift) { return 96 }
        }
        return saturate(Int(clamping: shiftRound(value, by: shift, mode: .halfUp)))
    }

    /// The bias term of `conv2d-fix`, at twice the accumulator's resolution:
    /// `⌊2 · bias · 2^shiftBias⌋` (a right shift floors).
    public static func alignedBias(_ bias: Int64, shiftBias: Int) -> Int64 {
        let shift = shiftBias + 1
        if shift >= 0 { return shiftedLeft(bias, by: shift, limit: 40) }
        return shift > -63 ? bias >> Int64(-shift) : (bias < 0 ? -1 : 0)
    }

    /// A convolution's or fully connected layer's output: `(2 · acc + alignedBias) ·
    /// 2^-(shiftCut + 1)`, then the output stage.
    ///
    /// - Parameters:
    ///   - accumulator: `Σ x_q · w_q` over the window (exact).
    ///   - bias: the int8 bias of the output channel, if any.
    ///   - shiftBias: `p_in + p_w − p_bias`.
    ///   - shiftCut: `p_in + p_w − p_out`.
    public static func convolution(
        accumulator: Int64, bias: Int64?, shiftBias: Int, shiftCut: Int, activation: Activation?, outputPosition: Int
    ) -> Int {
        let total = sum(product(2, accumulator), bias.map { alignedBias($0, shiftBias: shiftBias) } ?? 0)
        return requantize(total, shift: shiftCut + 1, activation: activation, outputPosition: outputPosition)
    }

    /// An element-wise sum: each input aligned to the finest input position, summed, then
    /// the output stage (`shift_read_i = p_i − min p`, `shift_write = min p − p_out`; the
    /// sum is exact, so this equals rounding `Σ q_i · 2^(p_out − p_i)`).
    public static func add(
        _ inputs: [(value: Int64, position: Int)], activation: Activation?, outputPosition: Int
    ) -> Int {
        let finest = inputs.map(\.position).max() ?? outputPosition
        var total: Int64 = 0
        for input in inputs { total = sum(total, shiftedLeft(input.value, by: finest - input.position, limit: 60)) }
        return requantize(total, shift: finest - outputPosition, activation: activation, outputPosition: outputPosition)
    }

    /// An element-wise product: `q_a · q_b · 2^-(p_a + p_b − p_out)`, then the output stage.
    public static func multiply(
        _ a: (value: Int64, position: Int), _ b: (value: Int64, position: Int), outputPosition: Int
    ) -> Int {
        requantize(
            product(a.value, b.value), shift: a.position + b.position - outputPosition, outputPosition: outputPosition)
    }

    /// The largest value the hard-sigmoid stage passes before its shift (`2^32`).
    static let hardSigmoidCeiling = Int64(1) << 32

    /// The hard-sigmoid numerator `min(2^32, max(0, x · 2731 + 3 · 2731 · 2^p_in))`, at
    /// position `p_in + 14` (`p_in ≥ 0`).
    private static func hardSigmoidNumerator(_ x: Int64, inputPosition: Int) -> Int64 {
        let offset = shiftedLeft(3 * hardSigmoidMultiplier.numerator, by: max(inputPosition, 0), limit: 60)
        return min(hardSigmoidCeiling, max(0, sum(product(x, hardSigmoidMultiplier.numerator), offset)))
    }

    /// Hard sigmoid `relu6(x + 3) · 2731/2^14`: the numerator shifted by
    /// `shift_hsigmoid = 14 + p_in − p_out`, rounded half up, saturated. The upper clamp is
    /// saturation (the DPU requires `p_out ≥ 7`, so 1.0 saturates to 127/128).
    ///
    /// - Precondition: `inputPosition` in `0...15` (the quantizer keeps it there).
    public static func hardSigmoid(_ x: Int64, inputPosition: Int, outputPosition: Int) -> Int {
        let numerator = hardSigmoidNumerator(x, inputPosition: inputPosition)
        let shift = hardSigmoidMultiplier.shift + inputPosition - outputPosition
        return saturate(Int(clamping: shiftRound(numerator, by: shift, mode: .halfUp)))
    }

    /// The fix position of the hard sigmoid inside hard swish.
    public static let hardSwishGatePosition = 7

    /// Hard swish `x · hard_sigmoid(x)`: the hard sigmoid rounded to position 7
    /// (``hardSigmoid(_:inputPosition:outputPosition:)``), times `x`, shifted by
    /// `shift_hswish = p_in + 7 − p_out`, rounded half up, saturated.
    public static func hardSwish(_ x: Int64, inputPosition: Int, outputPosition: Int) -> Int {
        let gate = hardSigmoid(x, inputPosition: inputPosition, outputPosition: hardSwishGatePosition)
        let shift = inputPosition + hardSwishGatePosition - outputPosition
        return saturate(Int(clamping: shiftRound(product(x, Int64(gate)), by: shift, mode: .halfUp)))
    }

    /// Average pooling: the window sum times the DPU multiplier `m / 2^s`
    /// (``averagePoolMultiplier(kernelHeight:kernelWidth:)``), moved from the input's position
    /// to the output's, then the output stage.
    public static func averagePool(
        sum: Int64, kernelHeight: Int, kernelWidth: Int, inputPosition: Int, outputPosition: Int
    ) -> Int {
        let (multiplier, shift) = averagePoolMultiplier(kernelHeight: kernelHeight, kernelWidth: kernelWidth)
        return requantize(
            product(sum, Int64(multiplier)), shift: shift + inputPosition - outputPosition,
            outputPosition: outputPosition)
    }

    // MARK: Saturating helpers: exact for every value an int8 pipeline produces; beyond ±2^62
    // (only reachable with positions far outside the DPU's shift ranges) they saturate
    // instead of trapping, and the result saturates to int8 like the true value would.

    private static let bound = Int64(1) << 62

    private static func clamped(_ value: Int64) -> Int64 { min(max(value, -bound), bound) }

    private static func sum(_ a: Int64, _ b: Int64) -> Int64 {
        let (result, overflow) = a.addingReportingOverflow(b)
        return overflow ? (a > 0 ? bound : -bound) : clamped(result)
    }

    private static func product(_ a: Int64, _ b: Int64) -> Int64 {
        let (result, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? ((a < 0) == (b < 0) ? bound : -bound) : clamped(result)
    }

    /// `value · 2^shift` (`shift ≥ 0`), exact below `2^limit` in magnitude, else `±2^limit`.
    private static func shiftedLeft(_ value: Int64, by shift: Int, limit: Int) -> Int64 {
        guard value != 0, shift > 0 else { return value }
        let cap = Int64(1) << Int64(limit)
        guard shift < limit, value.magnitude < UInt64(cap) >> UInt64(shift) else { return value > 0 ? cap : -cap }
        return value << Int64(shift)
    }
}
