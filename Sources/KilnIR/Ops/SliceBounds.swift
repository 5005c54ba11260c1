import KilnCore

/// ONNX `Slice`'s clamping rules, stated once for shape inference and the evaluator.
package enum SliceBounds {
    /// The first index and the element count along one axis of extent `dim`.
    ///
    /// Negative `start`/`end` count from the end; both are clamped to the axis (to
    /// `[0, dim]` for positive steps, `[-1, dim - 1]` for negative ones). A step beyond the
    /// extent picks at most one element, so it is clamped to `±(dim + 1)` to keep the
    /// arithmetic in range.
    ///
    /// - Throws: `invalidArgument` for a zero step.
    package static func range(start: Int, end: Int, step: Int, dim: Int) throws -> (start: Int, count: Int) {
        guard step != 0 else { throw KilnError(.invalidArgument, "Slice step must not be 0") }
        let step = Swift.min(Swift.max(step, -(dim + 1)), dim + 1)
        var first = start < 0 ? start &+ dim : start
        var last = end < 0 ? end &+ dim : end
        if step > 0 {
            first = Swift.min(Swift.max(first, 0), dim)
            last = Swift.min(Swift.max(last, 0), dim)
            return (first, last > first ? (last - first + step - 1) / step : 0)
        }
        first = Swift.min(Swift.max(first, 0), dim - 1)
        last = Swift.min(Swift.max(last, -1), dim - 1)
        return (first, first > last ? (first - last - step - 1) / -step : 0)
    }
}
