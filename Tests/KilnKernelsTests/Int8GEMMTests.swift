import KilnKernels
import Testing

/// `Int8GEMM.multiply` (native) and `portableMultiply` against a triple loop, with padded
/// leading dimensions and threads: both bit-exact.
@Suite struct Int8GEMMTests {
    @Test(arguments: [(1, 1, 1), (3, 5, 7), (17, 9, 33), (64, 16, 130), (5, 31, 4), (33, 70, 1031), (2, 17, 0)])
    func matchesTripleLoop(_ size: (Int, Int, Int)) {
        let (m, n, k) = size
        let (lda, ldb, ldc) = (k + 3, n + 1, n + 2)
        var state: UInt32 = 12345
        func next() -> Int8 {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Int8(truncatingIfNeeded: state >> 24)
        }
        let a = (0..<(m * lda)).map { _ in next() }
        let b = (0..<(k * ldb)).map { _ in next() }
        for (threads, portable) in [(1, false), (3, false), (1, true), (3, true)] {
            var c = [Int32](repeating: 7, count: m * ldc)
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        guard let aBase = a.baseAddress, let bBase = b.baseAddress, let cBase = c.baseAddress else { return }
                        if portable {
                            Int8GEMM.portableMultiply(
                                m: m, n: n, k: k, a: aBase, lda: lda, b: bBase, ldb: ldb, c: cBase, ldc: ldc,
                                threads: threads)
                        } else {
                            Int8GEMM.multiply(
                                m: m, n: n, k: k, a: aBase, lda: lda, b: bBase, ldb: ldb, c: cBase, ldc: ldc,
                                threads: threads)
                        }
                    }
                }
            }
            for i in 0..<m {
                for j in 0..<n {
                    var sum: Int32 = 0
                    for p in 0..<k { sum += Int32(a[i * lda + p]) * Int32(b[p * ldb + j]) }
                    #expect(c[i * ldc + j] == sum)
                }
                for j in n..<ldc { #expect(c[i * ldc + j] == 7) }
            }
        }
    }
}
