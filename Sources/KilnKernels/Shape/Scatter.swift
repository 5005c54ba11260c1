import KilnCore

/// How ScatterND / ScatterElements combine an update with the existing element (raw
/// values are ONNX's `reduction` values; `none` overwrites).
public enum ScatterReduction: String, Sendable {
    case none, add, mul, max, min
}

/// ScatterND and ScatterElements. The output starts as a copy of the data (the caller
/// makes it); updates are then written in order, so with `none` a later duplicate index
/// wins. Indices are normalized (non-negative, in range) by the caller.
public enum Scatter {
    /// `ScatterND`: for each index tuple `t` (of length `indexDepth`), the data slice it
    /// addresses is replaced by (or combined with) `updates[t]`.
    public static func scatterND<T: TensorElement>(
        into output: UnsafeMutableBufferPointer<T>, dataShape: [Int], indices: [Int], indexDepth: Int,
        updates: UnsafeBufferPointer<T>, combine: (T, T) -> T
    ) {
        let slice = Tensor.elementCount(Array(dataShape.dropFirst(indexDepth)))
        let strides = Tensor.strides(Array(dataShape.prefix(indexDepth))).map { $0 * slice }
        let tuples = indexDepth == 0 ? (slice == 0 ? 0 : updates.count / max(slice, 1)) : indices.count / indexDepth
        for tuple in 0..<tuples {
            var offset = 0
            for depth in 0..<indexDepth { offset += indices[tuple * indexDepth + depth] * strides[depth] }
            for element in 0..<slice {
                output[offset + element] = combine(output[offset + element], updates[tuple * slice + element])
            }
        }
    }

    /// `ScatterElements`: `output[p with p[axis] = indices[p]] ⊕= updates[p]` for every
    /// position `p` of `indicesShape`.
    public static func scatterElements<T: TensorElement>(
        into output: UnsafeMutableBufferPointer<T>, dataShape: [Int], indices: [Int], indicesShape: [Int],
        axis: Int, updates: UnsafeBufferPointer<T>, combine: (T, T) -> T
    ) {
        let strides = Tensor.strides(dataShape)
        Gather.forEachPosition(indicesShape, skipping: axis, strides: strides) { flat, base in
            let target = base + indices[flat] * strides[axis]
            output[target] = combine(output[target], updates[flat])
        }
    }

    /// The combining function of a reduction for numeric `T`.
    public static func combiner<T: TensorElement & Numeric & Comparable>(
        _ reduction: ScatterReduction, _ type: T.Type
    ) -> (T, T) -> T {
        switch reduction {
        case .none: { _, update in update }
        case .add: { $0 + $1 }
        case .mul: { $0 * $1 }
        case .max: { Swift.max($0, $1) }
        case .min: { Swift.min($0, $1) }
        }
    }

    /// The combining function of a reduction for integer `T`; add and mul wrap on
    /// overflow instead of trapping.
    public static func integerCombiner<T: TensorElement & FixedWidthInteger>(
        _ reduction: ScatterReduction, _ type: T.Type
    ) -> (T, T) -> T {
        switch reduction {
        case .none: { _, update in update }
        case .add: { $0 &+ $1 }
        case .mul: { $0 &* $1 }
        case .max: { Swift.max($0, $1) }
        case .min: { Swift.min($0, $1) }
        }
    }
}
