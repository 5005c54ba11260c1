import KilnCore

/// The broadcast loops shared by the binary and ternary elementwise kernels: a contiguous
/// fast path, then rows specialized on which operand is broadcast along the row.
enum BinaryLoop {
    /// Elements per parallel chunk: enough work to pay for a thread hop.
    static let grain = 1 << 14

    /// `out[i] = f(a[i'], b[i''])` over the broadcast described by `plan`.
    @inline(__always)
    static func run<A, B, C>(
        _ a: UnsafeBufferPointer<A>, _ b: UnsafeBufferPointer<B>, _ out: UnsafeMutableBufferPointer<C>,
        _ plan: BroadcastPlan, _ threads: Int, _ f: (A, B) -> C
    ) {
        guard plan.count > 0, let pa = a.baseAddress, let pb = b.baseAddress, let po = out.baseAddress else {
            return
        }
        let strideA = plan.innerStrides[0]
        let strideB = plan.innerStrides[1]
        // One row segment [start, end) starting at the given offsets.
        @inline(__always)
        func segment(_ z: UnsafeMutablePointer<C>, _ x: UnsafePointer<A>, _ y: UnsafePointer<B>, _ start: Int, _ end: Int) {
            switch (strideA, strideB) {
            case (1, 1):
                for i in start..<end { z[i] = f(x[i], y[i]) }
            case (1, _):
                let scalar = y[0]
                for i in start..<end { z[i] = f(x[i], scalar) }
            case (_, 1):
                let scalar = x[0]
                for i in start..<end { z[i] = f(scalar, y[i]) }
            default:
                let value = f(x[0], y[0])
                for i in start..<end { z[i] = value }
            }
        }
        if plan.rowCount == 1 {
            Parallel.forEach(plan.inner, threads: threads, grain: grain) { range in
                segment(po, pa, pb, range.lowerBound, range.upperBound)
            }
            return
        }
        let inner = plan.inner
        plan.forEachRow(threads: threads) { offset, offsetA, offsetB, _ in
            segment(po + offset, pa + offsetA, pb + offsetB, 0, inner)
        }
    }

    /// `out[i] = f(a[i'], b[i''], c[i'''])` over the broadcast described by `plan`.
    @inline(__always)
    static func run<A, B, C, D>(
        _ a: UnsafeBufferPointer<A>, _ b: UnsafeBufferPointer<B>, _ c: UnsafeBufferPointer<C>,
        _ out: UnsafeMutableBufferPointer<D>, _ plan: BroadcastPlan, _ threads: Int, _ f: (A, B, C) -> D
    ) {
        guard plan.count > 0, let pa = a.baseAddress, let pb = b.baseAddress, let pc = c.baseAddress,
            let po = out.baseAddress
        else { return }
        let strideA = plan.innerStrides[0]
        let strideB = plan.innerStrides[1]
        let strideC = plan.innerStrides[2]
        @inline(__always)
        func segment(
            _ z: UnsafeMutablePointer<D>, _ x: UnsafePointer<A>, _ y: UnsafePointer<B>, _ w: UnsafePointer<C>,
            _ start: Int, _ end: Int
        ) {
            if strideA == 1, strideB == 1, strideC == 1 {
                for i in start..<end { z[i] = f(x[i], y[i], w[i]) }
            } else {
                for i in start..<end { z[i] = f(x[i * strideA], y[i * strideB], w[i * strideC]) }
            }
        }
        if plan.rowCount == 1 {
            Parallel.forEach(plan.inner, threads: threads, grain: grain) { range in
                segment(po, pa, pb, pc, range.lowerBound, range.upperBound)
            }
            return
        }
        let inner = plan.inner
        plan.forEachRow(threads: threads) { offset, offsetA, offsetB, offsetC in
            segment(po + offset, pa + offsetA, pb + offsetB, pc + offsetC, 0, inner)
        }
    }
}
