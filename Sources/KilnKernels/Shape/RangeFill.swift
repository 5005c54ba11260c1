import KilnCore

/// Range: `start, start + delta, …` up to (not including) `limit`.
public enum RangeFill {
    /// The element count, `max(ceil((limit - start) / delta), 0)`, or `nil` when `delta`
    /// is zero or the count is not finite.
    public static func count(start: Double, limit: Double, delta: Double) -> Int? {
        guard delta != 0 else { return nil }
        let count = ((limit - start) / delta).rounded(.up)
        guard count.isFinite, count < Double(Int32.max) else { return nil }
        return Swift.max(Int(count), 0)
    }

    /// Fills `output` with `start + i * delta` (computed per element, so no drift).
    public static func fill<T: TensorElement & BinaryFloatingPoint>(
        _ output: UnsafeMutableBufferPointer<T>, start: T, delta: T
    ) {
        for index in output.indices { output[index] = start + T(index) * delta }
    }

    /// Fills `output` with `start + i * delta` (wrapping, never trapping).
    public static func fill<T: TensorElement & FixedWidthInteger>(
        _ output: UnsafeMutableBufferPointer<T>, start: T, delta: T
    ) {
        var value = start
        for index in output.indices {
            output[index] = value
            value = value &+ delta
        }
    }
}
