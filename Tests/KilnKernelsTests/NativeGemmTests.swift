import KilnCore
import Testing

@testable import KilnKernels

/// The native SGEMM (AVX2/FMA and its portable C path) against the reference product.
struct NativeGemmTests {
    /// Odd shapes in 1…67, deterministic; plus shapes across the 6×16 tile and 256-deep slice.
    static let shapes: [(Int, Int, Int)] = {
        var random = TestRandom(seed: 99)
        var result: [(Int, Int, Int)] = [(1, 1, 1), (6, 16, 1), (7, 17, 67), (67, 67, 67), (5, 15, 3), (12, 32, 300), (13, 33, 513)]
        for _ in 0..<24 {
            let draw = { (value: Float) in 1 + Int((value + 1) * 33) % 67 }
            result.append((draw(random.next()), draw(random.next()), draw(random.next())))
        }
        return result
    }()

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

    @Test("fused epilogue: row bias + ReLU, column bias + clip", arguments: [(7, 19, 5), (12, 32, 40), (1, 67, 300), (67, 3, 2)])
    func epilogue(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var random = TestRandom(seed: 4)
        let a = random.floats(m * k)
        let b = random.floats(k * n)
        let rowBias = random.floats(m)
        let columnBias = random.floats(n)
        var product = [Float](repeating: 0, count: m * n)
        ReferenceLinearAlgebra.matMul(m: m, n: n, k: k, a: a, b: b, c: &product)
        for isa in Self.isas {
            for threads in [1, 2] {
                var relu = [Float](repeating: .nan, count: m * n)
                var clipped = [Float](repeating: .nan, count: m * n)
                NativeKernels.withISA(isa) {
                    rowBias.withUnsafeBufferPointer { bias in
                        relu.withUnsafeMutableBufferPointer { out in
                            Gemm.multiply(
                                m: m, n: n, k: k, alpha: 1, a: a, lda: k, transA: false, b: b, ldb: n, transB: false,
                                beta: 0, c: out.baseAddress!, ldc: n, epilogue: GemmEpilogue(bias: .row(bias.baseAddress!), lower: 0),
                                threads: threads)
                        }
                    }
                    columnBias.withUnsafeBufferPointer { bias in
                        clipped.withUnsafeMutableBufferPointer { out in
                            Gemm.multiply(
                                m: m, n: n, k: k, alpha: 1, a: a, lda: k, transA: false, b: b, ldb: n, transB: false,
                                beta: 0, c: out.baseAddress!, ldc: n,
                                epilogue: GemmEpilogue(bias: .column(bias.baseAddress!), lower: -0.5, upper: 0.25),
                                threads: threads)
                        }
                    }
                }
                let expectedRelu = (0..<(m * n)).map { max(0, product[$0] + rowBias[$0 / n]) }
                let expectedClip = (0..<(m * n)).map { min(0.25, max(-0.5, product[$0] + columnBias[$0 % n])) }
                #expect(worstError(relu, expectedRelu) <= 1e-4, "\(isa) threads \(threads)")
                #expect(worstError(clipped, expectedClip) <= 1e-4, "\(isa) threads \(threads)")
            }
        }
    }

    @Test("pre-packed B gives the same result as packing on the fly", arguments: [(5, 37, 19), (67, 67, 67), (30, 100, 600)])
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
                    if isa == NativeKernels.cpuISA || !NativeKernels.hasFastSgemm {
                        #expect(worstError(viaPacked, direct) <= 1e-5, "\(isa) threads \(threads)")
                    }
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
