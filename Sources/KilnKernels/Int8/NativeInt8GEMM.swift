import CKilnKernels

/// Exact int8 matrix product for the DPU emulator, in native code: `C = A · B` with
/// A `m × k` int8, B `k × n` int8 and C `m × n` Int32, all row-major.
///
/// Exact: operands are widened to int16 and multiplied pairwise into int32 (`vpmaddwd` on
/// AVX-512 and AVX2; never the saturating `vpmaddubsw`), or, with AVX512-VNNI, A + 128 as
/// unsigned bytes times B in quads (`vpdpbusd`, not the saturating `vpdpbusds`) less the
/// packed `128 · Σ_k b[k][j]`; so each element equals the plain int32 dot product (wrapping,
/// which can only happen beyond k = 131072) on every instruction set. B is packed once in
/// both layouts (``PackedB``) and reused across calls; the portable C path runs on CPUs
/// without AVX2.
///
/// ```swift
/// let weights = NativeInt8GEMM.PackedB(k: k, n: n, b: w, ldb: n)
/// NativeInt8GEMM.multiply(m: m, a: x, lda: k, packed: weights, c: y, ldc: n, threads: 2)
/// ```
package enum NativeInt8GEMM {
    /// B (`k × n` int8) widened and packed into the native kernel's panels.
    package struct PackedB: Sendable {
        /// Rows of B.
        package let k: Int
        /// Columns of B.
        package let n: Int
        /// The panels: int16 pairs along k, 16 columns a panel; then the same as int8 quads and
        /// the column sums of the VNNI kernel (`ckiln_i8gemm_pack_b`).
        let storage: [Int16]

        /// Packs `b` (`k × n`, row stride `ldb`).
        package init(k: Int, n: Int, b: UnsafePointer<Int8>, ldb: Int) {
            self.k = max(0, k)
            self.n = max(0, n)
            let count = Int(ckiln_i8gemm_packed_b_count(k, n))
            storage = [Int16](unsafeUninitializedCapacity: count) { buffer, initialized in
                if let base = buffer.baseAddress { ckiln_i8gemm_pack_b(k, n, b, ldb, base) }
                initialized = count
            }
        }
    }

    /// `C = A · B` (C overwritten), B packed on the fly.
    ///
    /// - Parameters:
    ///   - a: `m × k` int8, row stride `lda`.
    ///   - b: `k × n` int8, row stride `ldb`.
    ///   - c: `m × n` Int32, row stride `ldc`.
    ///   - threads: threads to use (the calling one included); M or N is split.
    package static func multiply(
        m: Int, n: Int, k: Int, a: UnsafePointer<Int8>, lda: Int, b: UnsafePointer<Int8>, ldb: Int,
        c: UnsafeMutablePointer<Int32>, ldc: Int, threads: Int
    ) {
        guard m > 0, n > 0 else { return }
        multiply(m: m, a: a, lda: lda, packed: PackedB(k: k, n: n, b: b, ldb: ldb), c: c, ldc: ldc, threads: threads)
    }

    /// `C = A · B` (C overwritten) with a packed B: A is `m × packed.k`, C `m × packed.n`.
    package static func multiply(
        m: Int, a: UnsafePointer<Int8>, lda: Int, packed: PackedB, c: UnsafeMutablePointer<Int32>, ldc: Int,
        threads: Int
    ) {
        let (n, k) = (packed.n, packed.k)
        guard m > 0, n > 0 else { return }
        let isa = NativeKernels.activeISA.rawValue
        packed.storage.withUnsafeBufferPointer { panels in
            Gemm.forEachBlock(m: m, n: n, k: k, threads: threads, columnAlignment: Int(CKILN_I8_NR)) { rows, columns in
                let aBlock = a + rows.lowerBound * lda
                let cBlock = c + rows.lowerBound * ldc + columns.lowerBound
                let status = ckiln_i8gemm_packed(
                    isa, rows.count, columns.count, k, aBlock, lda, panels.baseAddress, n, columns.lowerBound, cBlock, ldc)
                if status != 0 {
                    // No scratch memory: the plain exact loop (B is still at hand only packed,
                    // so read it back from the panels).
                    scalarFallback(rows: rows, columns: columns, k: k, a: a, lda: lda, packed: panels, n: n, c: c, ldc: ldc)
                }
            }
        }
    }

    /// `out = stage(A · B)` (int8, row stride `ldo`) with a packed B: the requantizing
    /// stage fused into the kernel where it can be (AVX-512), else applied to each finished
    /// tile. `c` (`m × packed.n`, row stride `ldc`) is scratch.
    package static func multiply(
        m: Int, a: UnsafePointer<Int8>, lda: Int, packed: PackedB, c: UnsafeMutablePointer<Int32>, ldc: Int,
        stage: NativeInt8NHWC.Stage, out: UnsafeMutablePointer<Int8>, ldo: Int, threads: Int
    ) {
        let (n, k) = (packed.n, packed.k)
        guard m > 0, n > 0 else { return }
        let isa = NativeKernels.activeISA
        packed.storage.withUnsafeBufferPointer { panels in
            Gemm.forEachBlock(m: m, n: n, k: k, threads: threads, columnAlignment: Int(CKILN_I8_NR)) { rows, columns in
                let aBlock = a + rows.lowerBound * lda
                let cBlock = c + rows.lowerBound * ldc + columns.lowerBound
                let outBlock = out + rows.lowerBound * ldo + columns.lowerBound
                var blockStage = stage.raw
                blockStage.offsets += columns.lowerBound
                let status = ckiln_i8gemm_packed_requantize(
                    isa.rawValue, rows.count, columns.count, k, aBlock, lda, panels.baseAddress, n, columns.lowerBound,
                    cBlock, ldc, &blockStage, outBlock, ldo)
                if status != 0 {
                    scalarFallback(rows: rows, columns: columns, k: k, a: a, lda: lda, packed: panels, n: n, c: c, ldc: ldc)
                    withUnsafePointer(to: blockStage) { raw in
                        ckiln_i8_requantize(isa.rawValue, rows.count, columns.count, cBlock, ldc, raw, outBlock, ldo)
                    }
                }
            }
        }
    }

    /// The exact product straight from the packed panels; only when scratch allocation failed.
    private static func scalarFallback(
        rows: Range<Int>, columns: Range<Int>, k: Int, a: UnsafePointer<Int8>, lda: Int,
        packed: UnsafeBufferPointer<Int16>, n: Int, c: UnsafeMutablePointer<Int32>, ldc: Int
    ) {
        let panelWidth = Int(CKILN_I8_NR)
        let slicePairs = Int(CKILN_I8_KC_PAIRS)
        let padded = (n + panelWidth - 1) / panelWidth * panelWidth
        let pairs = (k + 1) / 2
        for i in rows {
            for j in columns {
                var sum: Int32 = 0
                for p in 0..<k {
                    let pair = p / 2
                    let sliceStart = pair / slicePairs * slicePairs
                    let sliceCount = min(slicePairs, pairs - sliceStart)
                    let index = sliceStart * padded * 2 + (j / panelWidth) * panelWidth * sliceCount * 2
                        + (pair - sliceStart) * 2 * panelWidth + 2 * (j % panelWidth) + p % 2
                    sum &+= Int32(a[i * lda + p]) &* Int32(packed[index])
                }
                c[i * ldc + j] = sum
            }
        }
    }
}
