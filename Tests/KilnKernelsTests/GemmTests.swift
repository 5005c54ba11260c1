import KilnCore
import Testing

import KilnKernels

/// Deterministic pseudo-random floats in [-1, 1) for kernel tests.
struct TestRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 6_364_136_223_846_793_005 &+ 1 }

    mutating func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int32(truncatingIfNeeded: state >> 32)) / Float(Int32.max)
    }

    mutating func floats(_ count: Int) -> [Float] { (0..<count).map { _ in next() } }
}

/// The matrix stored for `op(X)` of shape `rows × columns`: `X` itself, or its transpose.
private func stored(_ matrix: [Float], rows: Int, columns: Int, transposed: Bool) -> [Float] {
    guard transposed else { return matrix }
    var result = [Float](repeating: 0, count: matrix.count)
    for i in 0..<rows {
        for j in 0..<columns { result[j * rows + i] = matrix[i * columns + j] }
    }
    return result
}

private func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-4, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    var worst: Float = 0
    for (x, y) in zip(actual, expected) { worst = max(worst, abs(x - y) / (1 + abs(y))) }
    #expect(worst <= tolerance, "worst relative error \(worst)", sourceLocation: sourceLocation)
}

struct GemmTests {
    static let sizes = [1, 7, 17, 65, 129]
    static let shapes: [(Int, Int, Int)] =
        sizes.flatMap { m in sizes.flatMap { n in sizes.map { k in (m, n, k) } } }
        + [(13, 2100, 300), (250, 3, 260)]  // across the nc, mc and kc block edges

    /// Runs the blocked GEMM with the given transposes, alpha and beta.
    private func blocked(
        m: Int, n: Int, k: Int, opA: [Float], opB: [Float], c: [Float], alpha: Float, beta: Float,
        transA: Bool, transB: Bool, threads: Int
    ) -> [Float] {
        let a = stored(opA, rows: m, columns: k, transposed: transA)
        let b = stored(opB, rows: k, columns: n, transposed: transB)
        var result = c
        result.withUnsafeMutableBufferPointer { out in
            Gemm.multiply(
                m: m, n: n, k: k, alpha: alpha, a: a, lda: transA ? m : k, transA: transA,
                b: b, ldb: transB ? k : n, transB: transB, beta: beta, c: out.baseAddress!, ldc: n,
                threads: threads)
        }
        return result
    }

    @Test("blocked GEMM matches the naive product on awkward sizes", arguments: shapes)
    func matchesReference(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var random = TestRandom(seed: UInt64(m * 10_000 + n * 100 + k))
        let opA = random.floats(m * k)
        let opB = random.floats(k * n)
        let c = random.floats(m * n)
        var product = [Float](repeating: 0, count: m * n)
        ReferenceLinearAlgebra.matMul(m: m, n: n, k: k, a: opA, b: opB, c: &product)
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            let plain = blocked(
                m: m, n: n, k: k, opA: opA, opB: opB, c: c, alpha: 1, beta: 0,
                transA: transA, transB: transB, threads: 1)
            expectClose(plain, product)
            let scaled = blocked(
                m: m, n: n, k: k, opA: opA, opB: opB, c: c, alpha: 0.5, beta: -2,
                transA: transA, transB: transB, threads: 1)
            expectClose(scaled, zip(product, c).map { 0.5 * $0 - 2 * $1 })
        }
    }

    @Test("two threads give bit-identical results", arguments: [(129, 65, 300), (7, 513, 17), (300, 9, 129), (65, 65, 65)])
    func threadsAreDeterministic(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var random = TestRandom(seed: 7)
        let opA = random.floats(m * k)
        let opB = random.floats(k * n)
        let c = random.floats(m * n)
        for (transA, transB) in [(false, false), (true, true)] {
            let one = blocked(m: m, n: n, k: k, opA: opA, opB: opB, c: c, alpha: 1.5, beta: 1, transA: transA, transB: transB, threads: 1)
            let two = blocked(m: m, n: n, k: k, opA: opA, opB: opB, c: c, alpha: 1.5, beta: 1, transA: transA, transB: transB, threads: 2)
            #expect(one == two)
        }
    }

    @Test func betaZeroIgnoresNaNInC() {
        let a: [Float] = [1, 2]
        let b: [Float] = [3, 4]
        var c: [Float] = [.nan]
        c.withUnsafeMutableBufferPointer { out in
            Gemm.multiply(m: 1, n: 1, k: 2, alpha: 1, a: a, lda: 2, transA: false, b: b, ldb: 1, transB: false, beta: 0, c: out.baseAddress!, ldc: 1, threads: 1)
        }
        #expect(c == [11])
    }

    @Test func batchedMatMulBroadcasts() throws {
        var random = TestRandom(seed: 3)
        let a = Tensor(shape: [2, 1, 3, 5], scalars: random.floats(30))
        let b = Tensor(shape: [4, 5, 2], scalars: random.floats(40))
        let shape = try MatrixProducts.matMulShape(a.shape, b.shape)
        #expect(shape == [2, 4, 3, 2])
        var out = Tensor(zeros: shape, dtype: .float32)
        try MatrixProducts.matMul(a: a, b: b, output: &out, threads: 2)
        let left = a.scalars(as: Float.self)
        let right = b.scalars(as: Float.self)
        let actual = out.scalars(as: Float.self)
        for i in 0..<2 {
            for j in 0..<4 {
                var expected = [Float](repeating: 0, count: 6)
                ReferenceLinearAlgebra.matMul(
                    m: 3, n: 2, k: 5, a: Array(left[(i * 15)..<(i * 15 + 15)]),
                    b: Array(right[(j * 10)..<(j * 10 + 10)]), c: &expected)
                expectClose(Array(actual[((i * 4 + j) * 6)..<((i * 4 + j) * 6 + 6)]), expected)
            }
        }
    }

    @Test func matMulOtherDTypesAgreeWithFloat32() throws {
        var random = TestRandom(seed: 5)
        let left = random.floats(3 * 4 * 5)
        let right = random.floats(5 * 6)
        var reference = Tensor(zeros: [3, 4, 6], dtype: .float32)
        try MatrixProducts.matMul(a: Tensor(shape: [3, 4, 5], scalars: left), b: Tensor(shape: [5, 6], scalars: right), output: &reference, threads: 1)
        let expected = reference.scalars(as: Float.self)
        var double = Tensor(zeros: [3, 4, 6], dtype: .float64)
        try MatrixProducts.matMul(
            a: Tensor(shape: [3, 4, 5], scalars: left.map { Double($0) }), b: Tensor(shape: [5, 6], scalars: right.map { Double($0) }),
            output: &double, threads: 1)
        #expect(zip(double.scalars(as: Double.self), expected).allSatisfy { abs($0 - Double($1)) < 1e-5 })
        var half = Tensor(zeros: [3, 4, 6], dtype: .float16)
        try MatrixProducts.matMul(
            a: Tensor(shape: [3, 4, 5], scalars: left.map { Float16($0) }), b: Tensor(shape: [5, 6], scalars: right.map { Float16($0) }),
            output: &half, threads: 1)
        #expect(zip(half.scalars(as: Float16.self), expected).allSatisfy { abs(Float($0) - $1) < 1e-2 })
        var integers = Tensor(zeros: [2], dtype: .int32)
        try MatrixProducts.matMul(
            a: Tensor(shape: [2, 2], scalars: [Int32.max, 1, 2, 3]), b: Tensor(shape: [2], scalars: [Int32(2), 5]),
            output: &integers, threads: 1)
        #expect(integers.scalars(as: Int32.self) == [Int32.max &* 2 &+ 5, 19])
    }

    @Test func gemmBroadcastsCAndScales() throws {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6] as [Double])
        let b = Tensor(shape: [2, 3], scalars: [1, 0, 1, 0, 1, 0] as [Double])  // used transposed
        let c = Tensor(shape: [2], scalars: [10, 20] as [Double])
        let parameters = MatrixProducts.GemmParameters(alpha: 2, beta: 0.5, transA: false, transB: true)
        var output = Tensor(zeros: [2, 2], dtype: .float64)
        try MatrixProducts.gemm(a: a, b: b, c: c, parameters, output: &output, threads: 1)
        // A·Bᵀ = [[4, 2], [10, 5]]; C broadcasts along rows.
        let expected: [Double] = [13, 14, 25, 20]
        #expect(output.scalars(as: Double.self) == expected)
        var single = Tensor(zeros: [2, 2], dtype: .float32)
        try MatrixProducts.gemm(
            a: Tensor(shape: [2, 3], scalars: a.scalars(as: Double.self).map { Float($0) }),
            b: Tensor(shape: [2, 3], scalars: b.scalars(as: Double.self).map { Float($0) }),
            c: Tensor(shape: [2], scalars: [10, 20] as [Float]), parameters, output: &single, threads: 1)
        #expect(single.scalars(as: Float.self) == [13, 14, 25, 20])
    }
}
