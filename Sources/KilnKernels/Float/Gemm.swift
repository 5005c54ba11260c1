/// Single-precision general matrix multiply: `C = alpha * op(A) * op(B) + beta * C`.
///
/// ``multiply(m:n:k:alpha:a:lda:transA:b:ldb:transB:beta:c:ldc:epilogue:threads:)`` runs the
/// native AVX2/FMA kernel of `CKilnKernels` when the CPU has it (see `GemmDispatch.swift`);
/// otherwise, and in ``portableMultiply(m:n:k:alpha:a:lda:transA:b:ldb:transB:beta:c:ldc:threads:)``,
/// a blocked, register-tiled GEMM in Swift, in the Goto/BLIS style: `op(B)` is packed in `kc × nc`
/// blocks of ``Gemm/nr``-column panels, `op(A)` in `mc × kc` blocks of ``Gemm/mr``-row
/// panels (pre-scaled by `alpha`), and a `6 × 8` micro-kernel on `SIMD8<Float>` accumulates
/// each tile in registers over one `kc` slice. With `threads > 1` the larger of the M and N
/// dimensions is split into tile-aligned chunks, one per thread, each with its own packing
/// buffers.
///
/// Every element of C is computed with the same sequence of operations however the
/// problem is split (edge tiles use the same micro-kernel on zero-padded panels), so the
/// result does not depend on `threads`.
///
/// ```swift
/// // C[2x2] = A[2x3] * B[3x2]
/// Gemm.multiply(m: 2, n: 2, k: 3, alpha: 1, a: a, lda: 3, transA: false,
///               b: b, ldb: 2, transB: false, beta: 0, c: c, ldc: 2, threads: 1)
/// ```
///
/// ### See Also
/// - ``ReferenceLinearAlgebra/matMul(m:n:k:a:b:c:)``
package enum Gemm {
    /// Rows of a register tile.
    package static let mr = 6
    /// Columns of a register tile (one `SIMD8<Float>`).
    package static let nr = 8
    /// Rows of a packed A block (a multiple of ``mr``).
    static let mc = 120
    /// Depth of a packed K slice.
    static let kc = 256
    /// Columns of a packed B block (a multiple of ``nr``).
    static let nc = 2048

    /// Computes `C = alpha * op(A) * op(B) + beta * C` for row-major matrices with the
    /// portable Swift kernel: the path on CPUs without AVX2/FMA, and a second opinion in
    /// tests of the native one (``multiply(m:n:k:alpha:a:lda:transA:b:ldb:transB:beta:c:ldc:epilogue:threads:)``
    /// dispatches).
    ///
    /// - Parameters:
    ///   - m: rows of `op(A)` and `C`.
    ///   - n: columns of `op(B)` and `C`.
    ///   - k: columns of `op(A)`, rows of `op(B)`.
    ///   - a: `op(A)` is `a` (`m × k`, row stride `lda`), or its transpose when `transA`
    ///     (`a` is `k × m`).
    ///   - b: `op(B)` is `b` (`k × n`, row stride `ldb`), or its transpose when `transB`
    ///     (`b` is `n × k`).
    ///   - beta: `0` overwrites C without reading it (NaNs in C do not propagate).
    ///   - c: `m × n`, row stride `ldc`.
    ///   - threads: threads to use (the calling one included).
    package static func portableMultiply(
        m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, transA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transB: Bool,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int
    ) {
        guard m > 0, n > 0 else { return }
        let problem = Problem(
            alpha: alpha, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
            beta: beta, c: c, ldc: ldc, k: k)
        let rowTiles = (m + mr - 1) / mr
        let columnTiles = (n + nr - 1) / nr
        // Split the dimension with more tiles; keep chunks tile-aligned.
        let splitRows = rowTiles > columnTiles
        let tiles = splitRows ? rowTiles : columnTiles
        let work = Double(m) * Double(n) * Double(max(k, 1))
        let usable = work < 32_768 ? 1 : threads
        Parallel.forEach(tiles, threads: usable) { chunk in
            if splitRows {
                let rows = (chunk.lowerBound * mr)..<min(m, chunk.upperBound * mr)
                problem.run(rows: rows, columns: 0..<n)
            } else {
                let columns = (chunk.lowerBound * nr)..<min(n, chunk.upperBound * nr)
                problem.run(rows: 0..<m, columns: columns)
            }
        }
    }
}

/// One GEMM call's operands; `run` computes a rectangle of C serially.
private struct Problem {
    let alpha: Float
    let a: UnsafePointer<Float>
    let lda: Int
    let transA: Bool
    let b: UnsafePointer<Float>
    let ldb: Int
    let transB: Bool
    let beta: Float
    let c: UnsafeMutablePointer<Float>
    let ldc: Int
    let k: Int

    func run(rows: Range<Int>, columns: Range<Int>) {
        guard !rows.isEmpty, !columns.isEmpty else { return }
        scaleC(rows: rows, columns: columns)
        guard k > 0 else { return }
        let mr = Gemm.mr
        let nr = Gemm.nr
        // Packing buffers sized for this problem (small products stay small).
        let depth = min(Gemm.kc, k)
        let aCapacity = min(Gemm.mc, (rows.count + mr - 1) / mr * mr) * depth
        let bCapacity = min(Gemm.nc, (columns.count + nr - 1) / nr * nr) * depth
        let packedA = UnsafeMutableRawPointer.allocate(
            byteCount: aCapacity * MemoryLayout<Float>.stride, alignment: 64
        ).bindMemory(to: Float.self, capacity: aCapacity)
        let packedB = UnsafeMutableRawPointer.allocate(
            byteCount: bCapacity * MemoryLayout<Float>.stride, alignment: 64
        ).bindMemory(to: Float.self, capacity: bCapacity)
        let edge = UnsafeMutablePointer<Float>.allocate(capacity: mr * nr)
        defer {
            packedA.deallocate()
            packedB.deallocate()
            edge.deallocate()
        }
        for jc in stride(from: columns.lowerBound, to: columns.upperBound, by: Gemm.nc) {
            let ncb = min(Gemm.nc, columns.upperBound - jc)
            for pc in stride(from: 0, to: k, by: Gemm.kc) {
                let kcb = min(Gemm.kc, k - pc)
                packB(into: packedB, depth: pc, depthCount: kcb, column: jc, columnCount: ncb)
                for ic in stride(from: rows.lowerBound, to: rows.upperBound, by: Gemm.mc) {
                    let mcb = min(Gemm.mc, rows.upperBound - ic)
                    packA(into: packedA, row: ic, rowCount: mcb, depth: pc, depthCount: kcb)
                    for jr in stride(from: 0, to: ncb, by: nr) {
                        let columnsInTile = min(nr, ncb - jr)
                        let bPanel = UnsafePointer(packedB + jr * kcb)
                        for ir in stride(from: 0, to: mcb, by: mr) {
                            let rowsInTile = min(mr, mcb - ir)
                            let aPanel = UnsafePointer(packedA + ir * kcb)
                            let target = c + (ic + ir) * ldc + jc + jr
                            if rowsInTile == mr && columnsInTile == nr {
                                microKernel6x8(depth: kcb, a: aPanel, b: bPanel, c: target, ldc: ldc)
                            } else {
                                edge.initialize(repeating: 0, count: mr * nr)
                                microKernel6x8(depth: kcb, a: aPanel, b: bPanel, c: edge, ldc: nr)
                                for row in 0..<rowsInTile {
                                    for column in 0..<columnsInTile {
                                        target[row * ldc + column] += edge[row * nr + column]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `C = beta * C` on the rectangle; `beta == 0` writes zeros without reading.
    private func scaleC(rows: Range<Int>, columns: Range<Int>) {
        guard beta != 1 else { return }
        for row in rows {
            let line = c + row * ldc
            if beta == 0 {
                for column in columns { line[column] = 0 }
            } else {
                for column in columns { line[column] *= beta }
            }
        }
    }

    /// Packs `alpha * op(A)[row..<row+rowCount, depth..<depth+depthCount]` into panels of
    /// `mr` rows: panel `p` holds, for each k, `mr` consecutive values (zero-padded).
    private func packA(
        into packed: UnsafeMutablePointer<Float>, row: Int, rowCount: Int, depth: Int, depthCount: Int
    ) {
        let mr = Gemm.mr
        var out = packed
        for panel in stride(from: 0, to: rowCount, by: mr) {
            let rowsInPanel = min(mr, rowCount - panel)
            if transA {
                // op(A)[i, p] = a[p * lda + i]: each k step reads mr contiguous values.
                for p in 0..<depthCount {
                    let source = a + (depth + p) * lda + row + panel
                    for i in 0..<rowsInPanel { out[i] = alpha * source[i] }
                    for i in rowsInPanel..<mr { out[i] = 0 }
                    out += mr
                }
            } else {
                for i in 0..<mr {
                    if i < rowsInPanel {
                        let source = a + (row + panel + i) * lda + depth
                        for p in 0..<depthCount { out[p * mr + i] = alpha * source[p] }
                    } else {
                        for p in 0..<depthCount { out[p * mr + i] = 0 }
                    }
                }
                out += mr * depthCount
            }
        }
    }

    /// Packs `op(B)[depth..<depth+depthCount, column..<column+columnCount]` into panels of
    /// `nr` columns: panel `q` holds, for each k, `nr` consecutive values (zero-padded).
    private func packB(
        into packed: UnsafeMutablePointer<Float>, depth: Int, depthCount: Int, column: Int, columnCount: Int
    ) {
        let nr = Gemm.nr
        var out = packed
        for panel in stride(from: 0, to: columnCount, by: nr) {
            let columnsInPanel = min(nr, columnCount - panel)
            if transB {
                // op(B)[p, j] = b[j * ldb + p]: walk each source row along k.
                for j in 0..<nr {
                    if j < columnsInPanel {
                        let source = b + (column + panel + j) * ldb + depth
                        for p in 0..<depthCount { out[p * nr + j] = source[p] }
                    } else {
                        for p in 0..<depthCount { out[p * nr + j] = 0 }
                    }
                }
            } else if columnsInPanel == nr {
                for p in 0..<depthCount {
                    let source = UnsafeRawPointer(b + (depth + p) * ldb + column + panel)
                    UnsafeMutableRawPointer(out + p * nr).storeBytes(
                        of: source.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
                }
            } else {
                for p in 0..<depthCount {
                    let source = b + (depth + p) * ldb + column + panel
                    for j in 0..<columnsInPanel { out[p * nr + j] = source[j] }
                    for j in columnsInPanel..<nr { out[p * nr + j] = 0 }
                }
            }
            out += nr * depthCount
        }
    }
}

/// `C[6×8] += Apanel[6×depth] * Bpanel[depth×8]`, the accumulators held in registers.
///
/// Twelve of the sixteen SSE registers hold the tile (six `SIMD8<Float>`), two the B row,
/// one the broadcast A value. `a * b + acc` rather than `addingProduct`, which is a slow
/// library call when the target lacks FMA.
@inline(__always)
private func microKernel6x8(
    depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    var c0 = SIMD8<Float>()
    var c1 = SIMD8<Float>()
    var c2 = SIMD8<Float>()
    var c3 = SIMD8<Float>()
    var c4 = SIMD8<Float>()
    var c5 = SIMD8<Float>()
    var aPointer = a
    var bPointer = UnsafeRawPointer(b)
    for _ in 0..<depth {
        let bRow = bPointer.load(as: SIMD8<Float>.self)
        c0 = SIMD8(repeating: aPointer[0]) * bRow + c0
        c1 = SIMD8(repeating: aPointer[1]) * bRow + c1
        c2 = SIMD8(repeating: aPointer[2]) * bRow + c2
        c3 = SIMD8(repeating: aPointer[3]) * bRow + c3
        c4 = SIMD8(repeating: aPointer[4]) * bRow + c4
        c5 = SIMD8(repeating: aPointer[5]) * bRow + c5
        aPointer += 6
        bPointer += 32
    }
    accumulate(c0, into: c, row: 0, ldc: ldc)
    accumulate(c1, into: c, row: 1, ldc: ldc)
    accumulate(c2, into: c, row: 2, ldc: ldc)
    accumulate(c3, into: c, row: 3, ldc: ldc)
    accumulate(c4, into: c, row: 4, ldc: ldc)
    accumulate(c5, into: c, row: 5, ldc: ldc)
}

@inline(__always)
private func accumulate(_ tile: SIMD8<Float>, into c: UnsafeMutablePointer<Float>, row: Int, ldc: Int) {
    let pointer = UnsafeMutableRawPointer(c + row * ldc)
    let sum = UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self) + tile
    pointer.storeBytes(of: sum, as: SIMD8<Float>.self)
}
