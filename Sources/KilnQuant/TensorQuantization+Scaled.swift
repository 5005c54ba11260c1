import KilnCore

extension TensorQuantization {
    /// A float-scale quantization (the CPU scheme): one scale and zero point per tensor, or
    /// one per index of `axis`.
    ///
    /// - Parameters:
    ///   - scales: One scale, or one per channel.
    ///   - zeroPoints: Matching `scales` (all zero when empty).
    ///   - dtype: The integer type; the bit width is its size.
    ///   - axis: The channel axis of per-channel quantization.
    public static func scaled(
        _ scales: [Float], zeroPoints: [Int] = [], dtype: DType = .int8, axis: Int? = nil,
        roundMode: RoundMode = .halfToEven, method: CalibrationMethod? = nil
    ) -> TensorQuantization {
        TensorQuantization(
            dtype: dtype, bitWidth: dtype.byteSize * 8, fixPosition: nil, scales: scales,
            zeroPoints: zeroPoints.isEmpty ? [Int](repeating: 0, count: scales.count) : zeroPoints,
            axis: axis, roundMode: roundMode, method: method, note: nil)
    }
}
