import CKilnKernels

extension Gemm {
    /// A constant `alpha * op(A)` (`m × k`, e.g. convolution weights) packed once into the
    /// native kernel's panel layout, for repeated
    /// ``multiply(packed:n:b:ldb:transB:beta:c:ldc:epilogue:threads:)``.
    ///
    /// Uses the native kernels (AVX2/FMA, or their portable C path on other CPUs).
    package struct PackedA: Sendable {
        /// Rows of `op(A)`.
        package let m: Int
        /// Columns of `op(A)`.
        package let k: Int
        /// The panels.
        let storage: [Float]

        /// Packs `alpha * op(A)`: `a` is `m × k` (row stride `lda`), or `k × m` when `transA`.
        package init(m: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, transA: Bool) {
            self.m = max(0, m)
            self.k = max(0, k)
            let count = Int(ckiln_sgemm_packed_a_count(m, k))
            let isa = NativeKernels.activeISA.rawValue
            storage = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                if let base = buffer.baseAddress {
                    base.initialize(repeating: 0, count: count)
                    ckiln_sgemm_pack_a(isa, transA ? 1 : 0, m, k, alpha, a, lda, base)
                }
                initialized = count
            }
        }
    }

    /// `C = epilogue(packed * op(B) + beta * C)`: `packed` is `m × k` (its alpha applied),
    /// `op(B)` is `b` (`k × n`, row stride `ldb`) or its transpose; threads split M or N.
    package static func multiply(
        packed: PackedA, n: Int, b: UnsafePointer<Float>, ldb: Int, transB: Bool,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: GemmEpilogue = .none, threads: Int
    ) {
        let (m, k) = (packed.m, packed.k)
        guard m > 0, n > 0 else { return }
        let isa = NativeKernels.activeISA.rawValue
        packed.storage.withUnsafeBufferPointer { panels in
            forEachBlock(m: m, n: n, k: k, threads: threads) { rows, columns in
                let bBlock = transB ? b + columns.lowerBound * ldb : b + columns.lowerBound
                let cBlock = c + rows.lowerBound * ldc + columns.lowerBound
                let status = epilogue.withNative(row: rows.lowerBound, column: columns.lowerBound) { tile in
                    ckiln_sgemm_packed_a(
                        isa, transB ? 1 : 0, rows.count, columns.count, k, panels.baseAddress, m, rows.lowerBound,
                        bBlock, ldb, beta, cBlock, ldc, tile)
                }
                precondition(status == 0, "out of memory for GEMM packing buffers")
            }
        }
    }

    /// `C = epilogue(packed * B + beta * C)` with `B` (`k × n`) already in the packed-B
    /// layout (`ckiln_sgemm_pack_b`, or `ckiln_im2col_packed`); threads split M or N.
    package static func multiply(
        packed: PackedA, packedB: UnsafePointer<Float>, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
        epilogue: GemmEpilogue = .none, threads: Int
    ) {
        let (m, k) = (packed.m, packed.k)
        guard m > 0, n > 0 else { return }
        let isa = NativeKernels.activeISA.rawValue
        packed.storage.withUnsafeBufferPointer { panels in
            forEachBlock(m: m, n: n, k: k, threads: threads) { rows, columns in
                let cBlock = c + rows.lowerBound * ldc + columns.lowerBound
                let status = epilogue.withNative(row: rows.lowerBound, column: columns.lowerBound) { tile in
                    ckiln_sgemm_packed_ab(
                        isa, rows.count, columns.count, k, panels.baseAddress, m, rows.lowerBound, packedB, n,
                        columns.lowerBound, beta, cBlock, ldc, tile)
                }
                precondition(status == 0, "out of memory for GEMM packing buffers")
            }
        }
    }
}
