import KilnCore

/// NonZero: the coordinates of the non-zero elements.
public enum NonZero {
    /// The `[rank, count]` coordinates (row-major, int64) of the elements of `data`
    /// (of `shape`) for which `isNonZero` holds, in row-major element order.
    public static func coordinates<T: TensorElement>(
        _ data: UnsafeBufferPointer<T>, shape: [Int], isNonZero: (T) -> Bool
    ) -> (count: Int, coordinates: [Int64]) {
        var positions: [Int] = []
        for (flat, element) in data.enumerated() where isNonZero(element) { positions.append(flat) }
        let rank = shape.count
        let strides = Tensor.strides(shape)
        var result = [Int64](repeating: 0, count: rank * positions.count)
        for (column, flat) in positions.enumerated() {
            var remainder = flat
            for axis in 0..<rank {
                result[axis * positions.count + column] = Int64(remainder / strides[axis])
                remainder %= strides[axis]
            }
        }
        return (positions.count, result)
    }
}
