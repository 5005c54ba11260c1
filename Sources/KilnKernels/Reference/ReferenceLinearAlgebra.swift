/// Slow, obviously correct matrix products: the definition the blocked ``Gemm`` and the
/// batched ``MatMul`` are tested against, and the path for element types without a fast
/// kernel.
package enum ReferenceLinearAlgebra {
    /// `C = A * B` for contiguous row-major `A` (`m × k`), `B` (`k × n`), `C` (`m × n`):
    /// each element a plain dot product in ascending `k`.
    package static func matMul<T: ProductElement>(
        m: Int, n: Int, k: Int, a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var accumulator = T.zero
                for p in 0..<k {
                    accumulator = T.multiplyAdd(a[i * k + p], b[p * n + j], accumulator)
                }
                c[i * n + j] = accumulator
            }
        }
    }

    /// `C = A * B` with row strides, in i-k-j order (fast enough for the element types that
    /// have no blocked kernel).
    package static func matMulStrided<T: ProductElement>(
        m: Int, n: Int, k: Int, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        c: UnsafeMutablePointer<T>, ldc: Int
    ) {
        for i in 0..<m {
            let row = c + i * ldc
            for j in 0..<n { row[j] = T.zero }
            for p in 0..<k {
                let scale = a[i * lda + p]
                let source = b + p * ldb
                for j in 0..<n { row[j] = T.multiplyAdd(scale, source[j], row[j]) }
            }
        }
    }
}
