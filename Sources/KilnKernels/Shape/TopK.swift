import KilnCore

/// TopK along one axis of a tensor viewed as `[outer, axisDim, inner]`.
public enum TopK {
    /// Writes the `k` largest (or smallest) elements of every line along the axis, sorted,
    /// with their indices. Ties go to the lower index, as the ONNX spec asks.
    ///
    /// - Parameters:
    ///   - values: `outer * k * inner` elements.
    ///   - indices: `outer * k * inner` elements.
    ///   - isBefore: a strict order in which the wanted elements come first (e.g. `>` for
    ///     largest). Elements that are not ordered either way (NaN) keep index order.
    public static func topK<T: TensorElement>(
        _ input: UnsafeBufferPointer<T>, outer: Int, axisDim: Int, inner: Int, k: Int,
        isBefore: (T, T) -> Bool,
        values: UnsafeMutableBufferPointer<T>, indices: UnsafeMutableBufferPointer<Int64>
    ) {
        guard k > 0 else { return }
        var order = [Int](repeating: 0, count: axisDim)
        var line = [T]()
        line.reserveCapacity(axisDim)
        for o in 0..<outer {
            for i in 0..<inner {
                line.removeAll(keepingCapacity: true)
                for position in 0..<axisDim { line.append(input[(o * axisDim + position) * inner + i]) }
                for position in 0..<axisDim { order[position] = position }
                order.sort { a, b in
                    if isBefore(line[a], line[b]) { return true }
                    if isBefore(line[b], line[a]) { return false }
                    return a < b
                }
                for rank in 0..<k {
                    let target = (o * k + rank) * inner + i
                    values[target] = line[order[rank]]
                    indices[target] = Int64(order[rank])
                }
            }
        }
    }
}
