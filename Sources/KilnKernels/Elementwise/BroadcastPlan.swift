import KilnCore

/// How up to three operands are read when broadcast to one output shape, with adjacent
/// axes merged wherever every operand is either fully present or fully broadcast along
/// both: `[N, C, H, W] + [1, C, 1, 1]` becomes rows of `H*W` elements over an outer
/// `[N, C]` grid, where the second operand has inner stride 0.
///
/// Kernels walk the output row by row (``forEachRow(threads:_:)``) and run a tight loop
/// over each row, specialized on the inner strides (each 0 or 1).
public struct BroadcastPlan: Sendable {
    /// Extents of the merged outer axes (every axis but the innermost).
    public let outer: [Int]
    /// Extent of the merged innermost axis (the row length).
    public let inner: Int
    /// Per operand, its stride (in elements) along each outer axis; 0 where broadcast.
    public let outerStrides: [[Int]]
    /// Per operand, its stride along the innermost axis: 1, or 0 where broadcast.
    public let innerStrides: [Int]
    /// Number of output elements.
    public let count: Int

    /// Plans reading operands of `shapes` broadcast to `output` (their broadcast shape).
    ///
    /// - Precondition: every shape broadcasts to `output`; at most three operands.
    public init(shapes: [[Int]], output: [Int]) {
        precondition(shapes.count <= 3, "BroadcastPlan: at most three operands")
        count = Tensor.elementCount(output)
        let rank = output.count
        // Per operand and axis: whether the operand is present (not broadcast) there.
        let padded = shapes.map { shape in [Int](repeating: 1, count: rank - shape.count) + shape }
        var extents: [Int] = []
        var present: [[Bool]] = []  // per merged axis, per operand
        for axis in 0..<rank where output[axis] != 1 {
            let here = padded.map { $0[axis] != 1 }
            if let last = present.last, last == here {
                extents[extents.count - 1] *= output[axis]
            } else {
                extents.append(output[axis])
                present.append(here)
            }
        }
        if extents.isEmpty {
            extents = [1]
            present = [[Bool](repeating: true, count: shapes.count)]
        }
        // Strides of each operand along the merged axes: present axes are contiguous runs.
        var strides = [[Int]](repeating: [], count: shapes.count)
        for operand in shapes.indices {
            var running = 1
            var own = [Int](repeating: 0, count: extents.count)
            for axis in extents.indices.reversed() where present[axis][operand] {
                own[axis] = running
                running *= extents[axis]
            }
            strides[operand] = own
        }
        inner = extents[extents.count - 1]
        outer = Array(extents.dropLast())
        innerStrides = strides.map { $0[$0.count - 1] }
        outerStrides = strides.map { Array($0.dropLast()) }
    }

    /// Whether every operand is read contiguously with the output's own layout.
    public var isContiguous: Bool {
        outer.isEmpty && innerStrides.allSatisfy { $0 == 1 }
    }

    /// Number of rows (product of the outer extents).
    public var rowCount: Int { Tensor.elementCount(outer) }

    /// Calls `body(outputOffset, offset0, offset1, offset2)` once per row with the element
    /// offset where the row starts in the output and in each operand (0 for operands the
    /// plan does not have). Rows are split over `threads`.
    public func forEachRow(threads: Int, _ body: (Int, Int, Int, Int) -> Void) {
        guard count > 0 else { return }
        let rows = rowCount
        let grain = max(1, (1 << 14) / max(inner, 1))
        let operandCount = outerStrides.count
        let stride0 = operandCount > 0 ? outerStrides[0] : [Int](repeating: 0, count: outer.count)
        let stride1 = operandCount > 1 ? outerStrides[1] : [Int](repeating: 0, count: outer.count)
        let stride2 = operandCount > 2 ? outerStrides[2] : [Int](repeating: 0, count: outer.count)
        Parallel.forEach(rows, threads: threads, grain: grain) { range in
            // Decompose the first row index into outer coordinates, then step an odometer.
            var coordinate = [Int](repeating: 0, count: outer.count)
            var offsets = (0, 0, 0)
            var remainder = range.lowerBound
            for axis in outer.indices.reversed() {
                let position = remainder % outer[axis]
                remainder /= outer[axis]
                coordinate[axis] = position
                offsets.0 += position * stride0[axis]
                offsets.1 += position * stride1[axis]
                offsets.2 += position * stride2[axis]
            }
            for row in range {
                body(row * inner, offsets.0, offsets.1, offsets.2)
                var axis = outer.count - 1
                while axis >= 0 {
                    coordinate[axis] += 1
                    offsets.0 += stride0[axis]
                    offsets.1 += stride1[axis]
                    offsets.2 += stride2[axis]
                    if coordinate[axis] < outer[axis] { break }
                    offsets.0 -= stride0[axis] * outer[axis]
                    offsets.1 -= stride1[axis] * outer[axis]
                    offsets.2 -= stride2[axis] * outer[axis]
                    coordinate[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}
