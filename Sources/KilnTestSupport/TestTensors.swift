import KilnCore

/// Deterministic test data.
public enum TestTensors {
    /// float32 values in `[-scale, scale)` of `shape`, from a fixed linear congruential
    /// sequence seeded by `seed` (the same on every platform).
    public static func uniform(_ shape: [Int], seed: UInt64 = 1, scale: Float = 1) -> Tensor {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let values = (0..<Tensor.elementCount(shape)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
        return Tensor(shape: shape, scalars: values)
    }
}
