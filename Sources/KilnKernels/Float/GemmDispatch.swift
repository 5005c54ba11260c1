import CKilnKernels

/// What a GEMM does to each finished element of C: add a bias (per row or per column of C),
/// then clamp to `lower...upper` (ReLU is `lower: 0`). Applied once, after
/// `alpha * op(A) * op(B) + beta * C`; NaN stays NaN.
package struct GemmEpilogue {
    /// Where the bias comes from.
    package enum Bias {
        /// No bias.
        case none
        /// `bias[i]` added to row `i` of C (`m` values).
        case row(UnsafePointer<Float>)
        /// `bias[j]` added to column `j` of C (`n` values).
        case column(UnsafePointer<Float>)
    }

    /// The bias.
    package var bias: Bias
    /// Lower clamp bound (`-infinity` for none).
    package var lower: Float
    /// Upper clamp bound (`infinity` for none).
    package var upper: Float

    /// An epilogue of `bias` then a clamp.
    package init(bias: Bias = .none, lower: Float = -.infinity, upper: Float = .infinity) {
        self.bias = bias
        self.lower = lower
        self.upper = upper
    }

    /// Does nothing.
    package static var none: GemmEpilogue { GemmEpilogue() }

    /// Whether the epilogue changes anything.
    var isIdentity: Bool {
        if case .none = bias, lower == -.infinity, upper == .infinity { return true }
        return false
    }

    /// The C form, for the block of C whose first row is `row` and first column `column`.
    func native(row: Int, column: Int) -> ckiln_epilogue {
        switch bias {
        case .none: return ckiln_epilogue(bias_kind: Int32(CKILN_BIAS_NONE), bias: nil, lower: lower, upper: upper)
        case .row(let values): return ckiln_epilogue(bias_kind: Int32(CKILN_BIAS_ROW), bias: values + row, lower: lower, upper: upper)
        case .column(let values): return ckiln_epilogue(bias_kind: Int32(CKILN_BIAS_COLUMN), bias: values + column, lower: lower, upper: upper)
        }
    }

    /// Calls `body` with the C form for the block at (`row`, `column`), or `nil` when the
    /// epilogue does nothing.
    func withNative<T>(row: Int, column: Int, _ body: (UnsafePointer<ckiln_epilogue>?) -> T) -> T {
        guard !isIdentity else { return body(nil) }
        let tile = native(row: row, column: column)
        return withUnsafePointer(to: tile) { body($0) }
    }

    /// Applies the epilogue to an `m × n` block of C in place (the portable path).
    func apply(m: Int, n: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard !isIdentity else { return }
        for i in 0..<m {
            let line = c + i * ldc
            for j in 0..<n {
                var x = line[j]
                switch bias {
                case .none: break
                case .row(let values): x += values[i]
                case .column(let values): x += values[j]
                }
                x = x < lower ? lower : x
                line[j] = x > upper ? upper : x
            }
        }
    }
}

extension Gemm {
    /// Register tile of the native kernel: rows and columns.
    static let nativeTile = (rows: Int(CKILN_SGEMM_MR), columns: Int(CKILN_SGEMM_NR))

    /// Columns of the register tile of the kernel this task runs: two packed B panels with
    /// AVX-512. Thread blocks aligned to it leave no narrow tile at each block's edge.
    static var activeTileColumns: Int { NativeKernels.activeISA >= .avx512 ? 2 * nativeTile.columns : nativeTile.columns }

    /// Computes `C = epilogue(alpha * op(A) * op(B) + beta * C)` for row-major matrices.
    ///
    /// Runs the native AVX-512 or AVX2/FMA kernel when the CPU has one, the portable Swift
    /// kernel otherwise. With `threads > 1` the dimension with more register tiles is split into
    /// tile-aligned chunks, one per thread (exactly `threads` at most); the result does not
    /// depend on `threads`.
    ///
    /// - Parameters:
    ///   - m: rows of `op(A)` and `C`.
    ///   - n: columns of `op(B)` and `C`.
    ///   - k: columns of `op(A)`, rows of `op(B)`.
    ///   - a: `op(A)` is `a` (`m × k`, row stride `lda`), or its transpose when `transA`.
    ///   - b: `op(B)` is `b` (`k × n`, row stride `ldb`), or its transpose when `transB`.
    ///   - beta: `0` overwrites C without reading it.
    ///   - c: `m × n`, row stride `ldc`.
    ///   - epilogue: bias and clamp fused into the last write of each element.
    ///   - threads: threads to use (the calling one included).
    package static func multiply(
        m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, transA: Bool,
        b: UnsafePointer<Float>, ldb: Int, transB: Bool,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
        epilogue: GemmEpilogue = .none, threads: Int
    ) {
        guard m > 0, n > 0 else { return }
        guard NativeKernels.hasFastSgemm else {
            portableMultiply(
                m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                beta: beta, c: c, ldc: ldc, threads: threads)
            epilogue.apply(m: m, n: n, c: c, ldc: ldc)
            return
        }
        let isa = NativeKernels.activeISA.rawValue
        forEachBlock(m: m, n: n, k: k, threads: threads) { rows, columns in
            let aBlock = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
            let bBlock = transB ? b + columns.lowerBound * ldb : b + columns.lowerBound
            let cBlock = c + rows.lowerBound * ldc + columns.lowerBound
            let status = epilogue.withNative(row: rows.lowerBound, column: columns.lowerBound) { tile in
                ckiln_sgemm(
                    isa, transA ? 1 : 0, transB ? 1 : 0, rows.count, columns.count, k, alpha, aBlock, lda,
                    bBlock, ldb, beta, cBlock, ldc, tile)
            }
            if status != 0 {
                // Out of scratch memory before C was touched: the Swift kernel needs less.
                portableMultiply(
                    m: rows.count, n: columns.count, k: k, alpha: alpha, a: aBlock, lda: lda, transA: transA,
                    b: bBlock, ldb: ldb, transB: transB, beta: beta, c: cBlock, ldc: ldc, threads: 1)
                var shifted = epilogue
                shifted.shift(row: rows.lowerBound, column: columns.lowerBound)
                shifted.apply(m: rows.count, n: columns.count, c: cBlock, ldc: ldc)
            }
        }
    }

    /// Splits C into at most `threads` tile-aligned blocks along the dimension with more
    /// native register tiles and calls `body` on each (on its own thread).
    static func forEachBlock(
        m: Int, n: Int, k: Int, threads: Int, columnAlignment: Int = activeTileColumns,
        _ body: (Range<Int>, Range<Int>) -> Void
    ) {
        let rowTiles = (m + nativeTile.rows - 1) / nativeTile.rows
        let columnTiles = (n + columnAlignment - 1) / columnAlignment
        let splitRows = rowTiles > columnTiles
        let work = Double(m) * Double(n) * Double(max(k, 1))
        // Below ~200k multiply-adds a second thread's wake-up costs more than it saves.
        let usable = work < 200_000 ? 1 : threads
        Parallel.forEach(splitRows ? rowTiles : columnTiles, threads: usable) { chunk in
            if splitRows {
                body((chunk.lowerBound * nativeTile.rows)..<min(m, chunk.upperBound * nativeTile.rows), 0..<n)
            } else {
                body(0..<m, (chunk.lowerBound * columnAlignment)..<min(n, chunk.upperBound * columnAlignment))
            }
        }
    }
}

extension GemmEpilogue {
    /// Moves the bias to a block starting at (`row`, `column`).
    mutating func shift(row: Int, column: Int) {
        switch bias {
        case .none: break
        case .row(let values): bias = .row(values + row)
        case .column(let values): bias = .column(values + column)
        }
    }
}
