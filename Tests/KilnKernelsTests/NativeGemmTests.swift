import KilnCore
import Testing

@testable import KilnKernels

/// The native SGEMM (AVX-512, AVX2/FMA and the portable paths) against the reference product.
struct NativeGemmTests {
    /// Odd shapes in 1…67, deterministic; plus shapes across the 6×16 and 6×32 tiles and the
    /// 256-deep slice.
    static let shapes: [(Int, Int, Int)] = {
        var random = TestRandom(seed: 99)
        var result: [(Int, Int, Int)] = [
            (1, 1, 1), (1, 1001, 300), (1, 37, 9), (1, 5, 1), (6, 16, 1), (7, 17, 67), (67, 67, 67), (5, 15, 3), (12, 32, 300), (13, 33, 513),
            (6, 32, 256), (11, 49, 257), (19, 95, 260), (25, 81, 70),
        ]
        for _ in 0..<24 {
            let draw = { (value: Float) in 1 + Int((value + 1) * 33) % 67 }
            result.append((draw(random.next()), draw(random.next()), draw(random.next())))
        }
        return result
    }()

    /// Every native path this CPU can run: portable, AVX2 (SGEMM 6×16), AVX-512 (6×32) and
    /// AVX-512 with VNNI (the int8 kernels' own level; SGEMM as AVX-512).
    static let isas: [NativeKernels.ISA] = [.portable, .avx2, .avx512, .avx512VNNI].filter { $0 <= NativeKernels.cpuISA }

    /// `op(X)` stored: `X` itself or its transpose.
    private func stored(_ matrix: [Float], rows: Int, columns: Int, transposed: Bool) -> [Float] {
        guard transposed else { return matrix }
        var result = [Float](repeating: 0, count: matrix.count)
        for i in 0..<rows {
            for j in 0..<columns { result[j * rows + i] = matrix[i * columns + j] }
        }
        return result
    }

    private func worstError(_ actual: [Float], _ expected: [Float]) -> Float {
        zip(actual, expected).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
    }

    @Test("native SGEMM matches the reference: transposes, alpha/beta, 1 and 2 threads", arguments: shapes)
    func matchesReference(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var random = TestRandom(seed: UInt64(m * 10_000 + n * 100 + k))
        let opA = random.floats(m * k)
        let opB = random.floats(k * n)
        let c = random.floats(m * n)
        var product = [Float](repeating: 0, count: m * n)
        ReferenceLinearAlgebra.matMul(m: m, n: n, k: k, a: opA, b: opB, c: &product)
        for isa in Self.isas {
            for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = stored(opA, rows: m, columns: k, transposed: transA)
                let b = stored(opB, rows: k, columns: n, transposed: transB)
                for (alpha, beta) in [(Float(1), Float(0)), (0.5, -2), (1, 1)] {
                    let expected = zip(product, c).map { alpha * $0 + beta * $1 }
                    var results: [[Float]] = []
                    for threads in [1, 2] {
                        var out = c
                        NativeKernels.withISA(isa) {
                            out.withUnsafeMutableBufferPointer { buffer in
                                Gemm.multiply(
                                    m: m, n: n, k: k, alpha: alpha, a: a, lda: transA ? m : k, transA: transA,
                                    b: b, ldb: transB ? k : n, transB: transB, beta: beta, c: buffer.baseAddress!, ldc: n,
                                    threads: threads)
                            }
                        }
                        #expect(worstError(out, expected) <= 1e-4, "\(isa) tA \(transA) tB \(transB) α \(alpha) β \(beta) threads \(threads)")
                        results.append(out)
                    }
                    #expect(results[0] == results[1], "\(isa): threads change the result")
                }
            }
        }
    }

    /// Each epilogue kind (none, row bias, column bias) with a clamp, at beta 0, 1 and −0.5.
    static let epilogueKinds = ["none + clip", "row + ReLU", "column + clip"]

    /// `epilogue(product + beta·c)` per element, as `ckiln_apply_epilogue` defines it.
    private func expectedEpilogue(
        kind: String, product: [Float], c: [Float], beta: Float, rowBias: [Float], columnBias: [Float], n: Int
    ) -> [Float] {
        (0..<product.count).map { index in
            var x = product[index] + beta * c[index]
            switch kind {
            case "row + ReLU": return max(0, x + rowBias[index / n])
            case "column + clip": x += columnBias[index % n]
            default: break
            }
            return min(0.25, max(-0.5, x))
        }
    }

    private func epilogue(kind: String, rowBias: UnsafePointer<Float>, columnBias: UnsafePointer<Float>) -> GemmEpilogue {
        switch kind {
        case "row + ReLU": return GemmEpilogue(bias: .row(rowBias), lower: 0)
        case "column + clip": return GemmEpilogue(bias: .column(columnBias), lower: -0.5, upper: 0.25)
        default: return GemmEpilogue(lower: -0.5, upper: 0.25)
        }
    }

    @Test(
        "fused epilogue: every kind, beta 0/1/other, 1 and 2 threads",
        arguments: [(7, 19, 5), (12, 32, 40), (1, 67, 300), (67, 3, 2), (13, 50, 270), (31, 97, 600)])
    func epilogue(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var random = TestRandom(seed: 4)
        let a = random.floats(m * k)
        let b = random.floats(k * n)
        let c = random.floats(m * n)
        let rowBias = random.floats(m)
        let columnBias = random.floats(n)
        var product = [Float](repeating: 0, count: m * n)
        ReferenceLinearAlgebra.matMul(m: m, n: n, k: k, a: a, b: b, c: &product)
        for isa in Self.isas {
            for kind in Self.epilogueKinds {
                for beta: Float in [0, 1, -0.5] {
                    let expected = expectedEpilogue(kind: kind, product: product, c: c, beta: beta, rowBias: rowBias, columnBias: columnBias, n: n)
                    for threads in [1, 2] {
                        var out = beta == 0 ? [Float](repeating: .nan, count: m * n) : c
                        NativeKernels.withISA(isa) {
                            rowBias.withUnsafeBufferPointer { row in
                                columnBias.withUnsafeBufferPointer { column in
                                    out.withUnsafeMutableBufferPointer { buffer in
                                        Gemm.multiply(
                                            m: m, n: n, k: k, alpha: 1, a: a, lda: k, transA: false, b: b, ldb: n, transB: false,
                                            beta: beta, c: buffer.baseAddress!, ldc: n,
                                            epilogue: epilogue(kind: kind, rowBias: row.baseAddress!, columnBias: column.baseAddress!),
                                            threads: threads)
                                    }
                                }
                            }
                        }
                        #expect(worstError(out, expected) <= 1e-4, "\(isa) \(kind) β \(beta) threads \(threads)")
                    }
                }
            }
        }
    }

    @Test(
        "packed A and packed B with beta and the epilogue match the reference",
        arguments: [(5, 37, 19), (13, 49, 300), (67, 67, 67), (31, 97, 600)])
    func packedWithEpilogue(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var random = TestRandom(seed: 12)
        let a = random.floats(m * k)
        let b = random.floats(k * n)
        let c = random.floats(m * n)
        let rowBias = random.floats(m)
        let columnBias = random.floats(n)
        var product = [Float](repeating: 0, count: m * n)
        ReferenceLinearAlgebra.matMul(m: m, n: n, k: k, a: a, b: b, c: &product)
        for isa in Self.isas {
            NativeKernels.withISA(isa) {
                let packedA = Gemm.PackedA(m: m, k: k, a: a, lda: k, transA: false)
                let packedB = Gemm.PackedB(k: k, n: n, b: b, ldb: n, transB: false)
                for kind in Self.epilogueKinds {
                    for beta: Float in [0, 1, -0.5] {
                        let expected = expectedEpilogue(kind: kind, product: product, c: c, beta: beta, rowBias: rowBias, columnBias: columnBias, n: n)
                        for threads in [1, 2] {
                            var viaA = c
                            var viaB = c
                            rowBias.withUnsafeBufferPointer { row in
                                columnBias.withUnsafeBufferPointer { column in
                                    let fused = epilogue(kind: kind, rowBias: row.baseAddress!, columnBias: column.baseAddress!)
                                    viaA.withUnsafeMutableBufferPointer { out in
                                        Gemm.multiply(
                                            packed: packedA, n: n, b: b, ldb: n, transB: false, beta: beta, c: out.baseAddress!, ldc: n,
                                            epilogue: fused, threads: threads)
                                    }
                                    viaB.withUnsafeMutableBufferPointer { out in
                                        Gemm.multiply(
                                            m: m, alpha: 1, a: a, lda: k, transA: false, packed: packedB, beta: beta, c: out.baseAddress!,
                                            ldc: n, epilogue: fused, threads: threads)
                                    }
                                }
                            }
                            #expect(worstError(viaA, expected) <= 1e-4, "packed A \(isa) \(kind) β \(beta) threads \(threads)")
                            #expect(worstError(viaB, expected) <= 1e-4, "packed B \(isa) \(kind) β \(beta) threads \(threads)")
                        }
                    }
                }
            }
        }
    }

    @Test("pre-packed B gives the same result as packing on the fly", arguments: [(5, 37, 19), (67, 67, 67), (30, 100, 600), (13, 49, 300)])
    func packedB(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var random = TestRandom(seed: 8)
        let a = random.floats(m * k)
        let bT = random.floats(n * k)
        for isa in Self.isas {
            NativeKernels.withISA(isa) {
                let packed = Gemm.PackedB(k: k, n: n, b: bT, ldb: k, transB: true)
                for threads in [1, 2] {
                    var direct = [Float](repeating: 0, count: m * n)
                    var viaPacked = [Float](repeating: 0, count: m * n)
                    direct.withUnsafeMutableBufferPointer { out in
                        Gemm.multiply(
                            m: m, n: n, k: k, alpha: 2, a: a, lda: k, transA: false, b: bT, ldb: k, transB: true,
                            beta: 0, c: out.baseAddress!, ldc: n, threads: threads)
                    }
                    viaPacked.withUnsafeMutableBufferPointer { out in
                        Gemm.multiply(m: m, alpha: 2, a: a, lda: k, transA: false, packed: packed, beta: 0, c: out.baseAddress!, ldc: n, threads: threads)
                    }
                    #expect(worstError(viaPacked, direct) <= 1e-5, "\(isa) threads \(threads)")
                    var product = [Float](repeating: 0, count: m * n)
                    ReferenceLinearAlgebra.matMul(m: m, n: n, k: k, a: a, b: stored(bT, rows: n, columns: k, transposed: true), c: &product)
                    #expect(worstError(viaPacked, product.map { 2 * $0 }) <= 1e-4, "\(isa) threads \(threads)")
                }
            }
        }
    }

    @Test func zeroDepthScalesAndAppliesTheEpilogue() {
        var c: [Float] = [1, -2, 3, -4]
        let bias: [Float] = [10, 20]
        let empty: [Float] = [0]
        bias.withUnsafeBufferPointer { biasBuffer in
            c.withUnsafeMutableBufferPointer { out in
                Gemm.multiply(
                    m: 2, n: 2, k: 0, alpha: 1, a: empty, lda: 1, transA: false, b: empty, ldb: 2, transB: false,
                    beta: 2, c: out.baseAddress!, ldc: 2, epilogue: GemmEpilogue(bias: .column(biasBuffer.baseAddress!)), threads: 1)
            }
        }
        #expect(c == [12, 16, 16, 12])
    }
}
