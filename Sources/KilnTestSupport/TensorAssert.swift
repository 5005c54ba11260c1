import KilnCore

/// Element-wise comparison of tensors for tests.
public enum TensorComparison {
    /// `nil` when `actual` matches `expected` (same shape, dtype, and every element within
    /// `atol + rtol * |expected|`; NaN matches NaN; integers and bools exactly), otherwise
    /// a one-line description of the first difference.
    public static func mismatch(_ actual: Tensor, _ expected: Tensor, rtol: Double, atol: Double) -> String? {
        guard actual.shape == expected.shape else {
            return "shape \(actual.shape) != expected \(expected.shape)"
        }
        guard actual.dtype == expected.dtype else {
            return "dtype \(actual.dtype) != expected \(expected.dtype)"
        }
        let a = actual.doubleScalars()
        let e = expected.doubleScalars()
        var worst = 0.0
        var worstIndex = -1
        for index in 0..<a.count {
            let x = a[index]
            let y = e[index]
            if x.isNaN && y.isNaN { continue }
            if x == y { continue }
            let excess = Swift.abs(x - y) - (atol + rtol * Swift.abs(y))
            if excess > 0 || x.isNaN || y.isNaN {
                if worstIndex < 0 || excess > worst || x.isNaN || y.isNaN {
                    worst = excess.isNaN ? .infinity : excess
                    worstIndex = index
                }
            }
        }
        guard worstIndex >= 0 else { return nil }
        return "element \(worstIndex): \(a[worstIndex]) != expected \(e[worstIndex])"
    }
}
