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
        let a = doubles(actual)
        let e = doubles(expected)
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

    /// The elements of any tensor as `Double`s.
    public static func doubles(_ tensor: Tensor) -> [Double] {
        switch tensor.dtype {
        case .float32: tensor.scalars(as: Float.self).map(Double.init)
        case .float64: tensor.scalars(as: Double.self)
        case .float16: tensor.scalars(as: Float16.self).map(Double.init)
        case .int8: tensor.scalars(as: Int8.self).map(Double.init)
        case .uint8: tensor.scalars(as: UInt8.self).map(Double.init)
        case .int16: tensor.scalars(as: Int16.self).map(Double.init)
        case .uint16: tensor.scalars(as: UInt16.self).map(Double.init)
        case .int32: tensor.scalars(as: Int32.self).map(Double.init)
        case .uint32: tensor.scalars(as: UInt32.self).map(Double.init)
        case .int64: tensor.scalars(as: Int64.self).map(Double.init)
        case .uint64: tensor.scalars(as: UInt64.self).map(Double.init)
        case .bool: tensor.scalars(as: Bool.self).map { $0 ? 1 : 0 }
        }
    }
}
