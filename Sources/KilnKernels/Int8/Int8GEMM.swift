/// Exact int8 matrix multiplication with int32 accumulation: the conv engine of the DPU
/// emulator (`KilnDPU`) runs convolutions as im2col + this product.
///
/// The contract (shared with any accelerated kernel plugged in later, e.g. an AVX2 C kernel):
/// `C[i][j] = Σ_p A[i][p] · B[p][j]` for `i < m`, `j < n`, `p < k`, where
///
/// - `A` is row-major `m × k` int8 with leading dimension `lda ≥ k`,
/// - `B` is row-major `k × n` int8 with leading dimension `ldb ≥ n`,
/// - `C` is row-major `m × n` int32 with leading dimension `ldc ≥ n`; it is overwritten
///   (not accumulated into), and only its `m × n` window is written.
///
/// Products are exact and sums wrap like int32 arithmetic; callers keep `k ≤ 2^17` so no
/// sum overflows (`|a · b| ≤ 2^14`). `multiply` runs the native kernel (``NativeInt8GEMM``:
/// AVX2 `vpmaddwd` or its portable C path, B packed per call — pack once with
/// `NativeInt8GEMM.PackedB` when B is reused); ``portableMultiply(m:n:k:a:lda:b:ldb:c:ldc:threads:)``
/// is the Swift reference it must equal bit for bit. Work is split over `threads` threads.
///
/// ```swift
/// a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
///     c.withUnsafeMutableBufferPointer { c in
///         Int8GEMM.multiply(m: 2, n: 3, k: 4, a: a.baseAddress!, lda: 4, b: b.baseAddress!, ldb: 3,
///                           c: c.baseAddress!, ldc: 3, threads: 1)
/// } } }
/// ```
public enum Int8GEMM {
    /// `C = A · B` (see the type's contract), with the native kernel.
    public static func multiply(
        m: Int, n: Int, k: Int, a: UnsafePointer<Int8>, lda: Int, b: UnsafePointer<Int8>, ldb: Int,
        c: UnsafeMutablePointer<Int32>, ldc: Int, threads: Int
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            return
        }
        NativeInt8GEMM.multiply(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, threads: threads)
    }

    /// `C = A · B` in portable Swift: the reference the native kernel is tested against, rows
    /// of `C` split over `threads` threads.
    public static func portableMultiply(
        m: Int, n: Int, k: Int, a: UnsafePointer<Int8>, lda: Int, b: UnsafePointer<Int8>, ldb: Int,
        c: UnsafeMutablePointer<Int32>, ldc: Int, threads: Int
    ) {
        guard m > 0, n > 0 else { return }
        // Pointers are not Sendable; their integer addresses cross into the worker threads.
        let aAddress = UInt(bitPattern: a)
        let bAddress = UInt(bitPattern: b)
        let cAddress = UInt(bitPattern: c)
        let grain = max(1, 16_384 / max(1, n * max(k, 1)))
        Parallel.forEach(m, threads: threads, grain: grain) { rows in
            guard let a = UnsafePointer<Int8>(bitPattern: aAddress), let b = UnsafePointer<Int8>(bitPattern: bAddress),
                let c = UnsafeMutablePointer<Int32>(bitPattern: cAddress)
            else { return }
            multiplyRows(rows, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        }
    }

    /// Rows `rows` of `C`: for each row, `C[i] = Σ_p A[i][p] · B[p]`, four rows of `B` at a time.
    @inline(__always)
    private static func multiplyRows(
        _ rows: Range<Int>, n: Int, k: Int, a: UnsafePointer<Int8>, lda: Int, b: UnsafePointer<Int8>, ldb: Int,
        c: UnsafeMutablePointer<Int32>, ldc: Int
    ) {
        for i in rows {
            let row = c + i * ldc
            row.update(repeating: 0, count: n)
            let aRow = a + i * lda
            var p = 0
            while p + 4 <= k {
                let a0 = Int32(aRow[p])
                let a1 = Int32(aRow[p + 1])
                let a2 = Int32(aRow[p + 2])
                let a3 = Int32(aRow[p + 3])
                if a0 | a1 | a2 | a3 != 0 {
                    let b0 = b + p * ldb
                    let b1 = b0 + ldb
                    let b2 = b1 + ldb
                    let b3 = b2 + ldb
                    for j in 0..<n {
                        row[j] &+= a0 &* Int32(b0[j]) &+ a1 &* Int32(b1[j]) &+ a2 &* Int32(b2[j]) &+ a3 &* Int32(b3[j])
                    }
                }
                p += 4
            }
            while p < k {
                let a0 = Int32(aRow[p])
                if a0 != 0 {
                    let b0 = b + p * ldb
                    for j in 0..<n { row[j] &+= a0 &* Int32(b0[j]) }
                }
                p += 1
            }
        }
    }
}
