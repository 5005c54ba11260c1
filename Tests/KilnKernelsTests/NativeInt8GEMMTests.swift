import CKilnKernels
import Testing

@testable import KilnKernels

/// The native int8 GEMM is bit-exact against the plain int32 dot product.
struct NativeInt8GEMMTests {
    /// Deterministic int8 values; `extremes` mixes in many −128 and 127.
    private func values(_ count: Int, seed: UInt64, extremes: Bool) -> [Int8] {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let draw = Int(truncatingIfNeeded: state >> 33)
            if extremes && draw % 3 != 0 { return draw % 2 == 0 ? Int8.min : Int8.max }
            return Int8(truncatingIfNeeded: draw)
        }
    }

    private func reference(m: Int, n: Int, k: Int, a: [Int8], b: [Int8]) -> [Int32] {
        var c = [Int32](repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k {
                let x = Int32(a[i * k + p])
                for j in 0..<n { c[i * n + j] &+= x &* Int32(b[p * n + j]) }
            }
        }
        return c
    }

    /// Odd m, n and k; tile edges of the 6×16 and 12×32 kernels (m 11, 12, 13, 25; n 31, 32,
    /// 33, 48); k beyond one and two slices of CKILN_I8_KC_PAIRS pairs (odd too).
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (6, 16, 2), (7, 17, 3), (67, 67, 67), (13, 5, 66), (2, 40, 513), (5, 33, 1023), (9, 18, 4096), (37, 1, 600),
        (12, 32, 64), (11, 31, 27), (25, 48, 1025), (13, 33, 2 * Int(CKILN_I8_KC_PAIRS) * 2 + 3), (49, 100, 577),
    ]

    static let isas = NativeGemmTests.isas

    @Test("exact against the int32 dot product, −128 extremes included, 1 and 2 threads", arguments: shapes)
    func exact(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        for extremes in [false, true] {
            let a = values(m * k, seed: UInt64(m + k), extremes: extremes)
            let b = values(k * n, seed: UInt64(n * 7 + k), extremes: extremes)
            let expected = reference(m: m, n: n, k: k, a: a, b: b)
            for isa in Self.isas {
                for threads in [1, 2] {
                    var c = [Int32](repeating: 7, count: m * n)
                    NativeKernels.withISA(isa) {
                        c.withUnsafeMutableBufferPointer { out in
                            NativeInt8GEMM.multiply(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: out.baseAddress!, ldc: n, threads: threads)
                        }
                    }
                    #expect(c == expected, "\(isa) extremes \(extremes) threads \(threads)")
                }
            }
        }
    }

    @Test("−128 · −128 at full depth, every instruction set", arguments: isas)
    func allMinusOneTwentyEightAtFullDepth(isa: NativeKernels.ISA) {
        for (m, n, k) in [(7, 19, 4096), (13, 33, 4097)] {
            let a = [Int8](repeating: .min, count: m * k)
            let b = [Int8](repeating: .min, count: k * n)
            for threads in [1, 2] {
                var c = [Int32](repeating: 0, count: m * n)
                NativeKernels.withISA(isa) {
                    c.withUnsafeMutableBufferPointer { out in
                        NativeInt8GEMM.multiply(
                            m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: out.baseAddress!, ldc: n, threads: threads)
                    }
                }
                #expect(c.allSatisfy { $0 == 16_384 * Int32(k) }, "\(isa) \(m)×\(n)×\(k) threads \(threads)")
            }
        }
    }

    /// Sums past 2^31 wrap the same way on every path (k = 131_074: 2^14 · k > 2^31).
    @Test("wrap-around beyond k = 131072 is identical on every instruction set")
    func wrapAround() {
        let (m, n, k) = (2, 17, 131_074)
        let a = [Int8](repeating: .min, count: m * k)
        let b = [Int8](repeating: .min, count: k * n)
        let expected = Int32(truncatingIfNeeded: 16_384 * k)
        for isa in Self.isas {
            var c = [Int32](repeating: 0, count: m * n)
            NativeKernels.withISA(isa) {
                c.withUnsafeMutableBufferPointer { out in
                    NativeInt8GEMM.multiply(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: out.baseAddress!, ldc: n, threads: 1)
                }
            }
            #expect(c.allSatisfy { $0 == expected }, "\(isa)")
        }
    }

    @Test("packed B reused with strided A and C")
    func packedReuse() {
        let (m, n, k) = (11, 21, 35)
        let b = values(k * n, seed: 3, extremes: true)
        let packed = NativeInt8GEMM.PackedB(k: k, n: n, b: b, ldb: n)
        for isa in Self.isas {
            for seed in [UInt64(1), 2] {
                let a = values(m * k, seed: seed, extremes: false)
                // A with row stride k + 3, C with row stride n + 2.
                var strided = [Int8](repeating: 0, count: m * (k + 3))
                for i in 0..<m { for p in 0..<k { strided[i * (k + 3) + p] = a[i * k + p] } }
                var c = [Int32](repeating: -1, count: m * (n + 2))
                NativeKernels.withISA(isa) {
                    c.withUnsafeMutableBufferPointer { out in
                        NativeInt8GEMM.multiply(
                            m: m, a: strided, lda: k + 3, packed: packed, c: out.baseAddress!, ldc: n + 2, threads: 2)
                    }
                }
                let expected = reference(m: m, n: n, k: k, a: a, b: b)
                for i in 0..<m {
                    #expect(Array(c[(i * (n + 2))..<(i * (n + 2) + n)]) == Array(expected[(i * n)..<(i * n + n)]))
                    #expect(c[i * (n + 2) + n] == -1)
                }
            }
        }
    }
}
