import CKilnKernels

extension Gemm {
    /// A constant `op(B)` (`k × n`, typically weights) packed once into the native kernel's
    /// panel layout, for repeated ``multiply(m:alpha:a:lda:transA:packed:beta:c:ldc:epilogue:threads:)``.
    ///
    /// Uses the native kernels (AVX2/FMA, or their portable C path on other CPUs).
    package struct PackedB: Sendable {
        /// Rows of `op(B)`.
        package let k: Int
        /// Columns of `op(B)`.
        package let n: Int
        /// The panels.
        let storage: [Float]

        /// Packs `op(B)`: `b` is `k × n` (row stride `ldb`), or `n × k` when `transB`.
        package init(k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, transB: Bool) {
            self.k = k
            self.n = n
            let count = Int(ckiln_sgemm_packed_b_count(k, n))
            storage = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                if let base = buffer.baseAddress { ckiln_sgemm_pack_b(transB ? 1 : 0, k, n, b, ldb, base) }
                initialized = count
            }
        }
    }

    /// `C = epilogue(alpha * op(A) * B + beta * C)` with a packed B (`m × packed.k` times
    /// `packed.k × packed.n`); threads split M or N as in the unpacked multiply.
    package static func multiply(
        m: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, transA: Bool,
        packed: PackedB, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
        epilogue: GemmEpilogue = .none, threads: Int
    ) {
        let (n, k) = (packed.n, packed.k)
        guard m > 0, n > 0 else { return }
        let isa = NativeKernels.activeISA.rawValue
        packed.storage.withUnsafeBufferPointer { panels in
            forEachBlock(m: m, n: n, k: k, threads: threads) { rows, columns in
                let aBlock = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
                let cBlock = c + rows.lowerBound * ldc + columns.lowerBound
                let status = epilogue.withNative(row: rows.lowerBound, column: columns.lowerBound) { tile in
                    ckiln_sgemm_packed(
                        isa, transA ? 1 : 0, rows.count, columns.count, k, alpha, aBlock, lda, panels.baseAddress, n,
                        columns.lowerBound, beta, cBlock, ldc, tile)
                }
                precondition(status == 0, "out of memory for GEMM packing buffers")
            }
        }
    }
}
