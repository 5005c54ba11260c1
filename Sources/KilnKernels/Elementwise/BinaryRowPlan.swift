import KilnCore

/// A float32 `Add`, `Sub`, `Mul` or `Div` over operand shapes fixed in advance: the
/// ``BroadcastPlan`` walked once into a table of row offsets, so a run is only the row
/// loops (no shape arithmetic, no allocation). Each output element is one IEEE operation
/// on the same two elements as in ``BinaryKernels/arithmetic(_:_:_:into:threads:)``, so the
/// results are bit for bit the same.
package struct FloatBinaryRowPlan: Sendable {
    /// The operation.
    package let op: BinaryOp
    /// Number of output elements.
    package let count: Int
    private let inner: Int
    private let strideA: Int
    private let strideB: Int
    /// Per row: where it starts in the output, in `a` and in `b` (elements).
    private let rows: [(output: Int, a: Int, b: Int)]

    /// Rows above this many are left to the evaluator (a table that large costs more
    /// memory than its shape arithmetic costs time).
    private static let maximumRows = 4096

    /// Plans `op` over operands of shapes `a` and `b`; `nil` for an op other than add, sub,
    /// mul, div, shapes that do not broadcast, an empty output or too many rows.
    package init?(_ op: BinaryOp, _ a: [Int], _ b: [Int]) {
        switch op {
        case .add, .sub, .mul, .div: break
        default: return nil
        }
        guard let output = Broadcast.shape([a, b]) else { return nil }
        let plan = BroadcastPlan(shapes: [a, b], output: output)
        guard plan.count > 0, plan.rowCount <= Self.maximumRows else { return nil }
        self.op = op
        count = plan.count
        inner = plan.inner
        strideA = plan.innerStrides[0]
        strideB = plan.innerStrides[1]
        var rows: [(output: Int, a: Int, b: Int)] = []
        rows.reserveCapacity(plan.rowCount)
        plan.forEachRow(threads: 1) { output, a, b, _ in rows.append((output, a, b)) }
        self.rows = rows
    }

    /// `z = op(x, y)` over buffers of the planned shapes (`z` may be `x` or `y` when it has
    /// that operand's shape).
    package func run(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>, threads: Int
    ) {
        switch op {
        case .add: run(x, y, z, threads) { $0 + $1 }
        case .sub: run(x, y, z, threads) { $0 - $1 }
        case .mul: run(x, y, z, threads) { $0 * $1 }
        default: run(x, y, z, threads) { $0 / $1 }
        }
    }

    @inline(__always)
    private func run(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>, _ threads: Int,
        _ f: (Float, Float) -> Float
    ) {
        let (inner, strideA, strideB) = (self.inner, self.strideA, self.strideB)
        @inline(__always)
        func segment(_ row: (output: Int, a: Int, b: Int), _ start: Int, _ end: Int) {
            let (zr, xr, yr) = (z + row.output, x + row.a, y + row.b)
            switch (strideA, strideB) {
            case (1, 1): for i in start..<end { zr[i] = f(xr[i], yr[i]) }
            case (1, _): let v = yr[0]; for i in start..<end { zr[i] = f(xr[i], v) }
            case (_, 1): let v = xr[0]; for i in start..<end { zr[i] = f(v, yr[i]) }
            default: let v = f(xr[0], yr[0]); for i in start..<end { zr[i] = v }
            }
        }
        rows.withUnsafeBufferPointer { rows in
            if rows.count == 1 {
                // One long row: split it instead.
                Parallel.forEach(inner, threads: threads, grain: BinaryLoop.grain) { range in
                    segment(rows[0], range.lowerBound, range.upperBound)
                }
                return
            }
            Parallel.forEach(rows.count, threads: threads, grain: max(1, BinaryLoop.grain / inner)) { range in
                for row in rows[range] { segment(row, 0, inner) }
            }
        }
    }
}
