import KilnCore
import Testing

@testable import KilnKernels

/// The DPU emulator's native int8 kernels compute the same bytes on every instruction set,
/// and the plain integer definitions.
struct NativeInt8NHWCTests {
    static let isas: [NativeKernels.ISA] =
        [NativeKernels.ISA.portable, .avx2, .avx512, .avx512VNNI].filter { $0 <= NativeKernels.cpuISA }

    private func values(_ count: Int, seed: UInt64) -> [Int8] {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let draw = Int(truncatingIfNeeded: state >> 33)
            return draw % 4 == 0 ? Int8.min : Int8(truncatingIfNeeded: draw)
        }
    }

    private func stage(_ x: Int32, offset: Int32, shift: Int, lower: Int32, upper: Int32) -> Int8 {
        Int8(min(max((x &+ offset) >> Int32(shift), lower), upper))
    }

    /// (in h/w, kernel, stride, dilation, pad, upsampling, channels, padded input channels).
    static let windows: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
        (7, 3, 1, 1, 1, 1, 37, 37), (9, 3, 2, 1, 1, 1, 70, 72), (6, 5, 1, 2, 3, 1, 3, 3), (5, 3, 2, 1, 2, 2, 17, 20),
        (8, 7, 2, 1, 3, 1, 3, 4), (4, 1, 1, 1, 0, 1, 33, 33),
        // Short whole runs moved 64 bytes at a time (a 7×7/2 stem on 3 channels, 3×3 on 8).
        (20, 7, 2, 1, 3, 1, 3, 3), (12, 3, 1, 1, 1, 1, 8, 8),
    ]

    @Test("im2col, depthwise (sums and fused stage) and max pooling on every instruction set", arguments: windows)
    func windowKernels(shape: (Int, Int, Int, Int, Int, Int, Int, Int)) {
        let (size, kernel, stride, dilation, pad, up, channels, inChannels) = shape
        let images = 2
        let virtual = (size - 1) * up + 1 + 2 * pad
        let out = (virtual - ((kernel - 1) * dilation + 1)) / stride + 1
        let window = NativeInt8NHWC.Window(
            inHeight: size, inWidth: size, outHeight: out, outWidth: out, kernelHeight: kernel, kernelWidth: kernel,
            strideY: stride, strideX: stride, dilationY: dilation, dilationX: dilation, padY: pad, padX: pad, upY: up,
            upX: up)
        let input = values(images * size * size * inChannels, seed: UInt64(size * 31 + channels))
        let weights = values(kernel * kernel * channels, seed: 9).map { Int16($0) }
        let offsets = (0..<channels).map { Int32($0 * 97 % 2000) - 1000 }
        let pixels = 1..<(images * out * out)
        let (m, k) = (pixels.count, kernel * kernel * channels)
        // The plain definitions.
        func tap(_ pixel: Int, _ ky: Int, _ kx: Int) -> Int? {
            let (ox, row) = (pixel % out, pixel / out)
            let (oy, image) = (row % out, row / out)
            let (vy, vx) = (oy * stride + ky * dilation - pad, ox * stride + kx * dilation - pad)
            guard vy >= 0, vx >= 0, vy % up == 0, vx % up == 0, vy / up < size, vx / up < size else { return nil }
            return ((image * size + vy / up) * size + vx / up) * inChannels
        }
        var columns = [Int8](repeating: 0, count: m * k)
        var sums = [Int32](repeating: 0, count: m * channels)
        var maxima = [Int8](repeating: .min, count: m * channels)
        for (r, pixel) in pixels.enumerated() {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    guard let at = tap(pixel, ky, kx) else { continue }
                    for c in 0..<channels {
                        columns[r * k + (ky * kernel + kx) * channels + c] = input[at + c]
                        maxima[r * channels + c] = max(maxima[r * channels + c], input[at + c])
                        sums[r * channels + c] += Int32(input[at + c]) * Int32(weights[(ky * kernel + kx) * channels + c])
                    }
                }
            }
        }
        let staged = (0..<(m * channels)).map { i -> Int8 in
            stage(sums[i], offset: offsets[i % channels], shift: 9, lower: -128, upper: 96)
        }
        for isa in Self.isas {
            var gotColumns = [Int8](repeating: 5, count: m * k)
            var gotSums = [Int32](repeating: 5, count: m * channels)
            var gotStaged = [Int8](repeating: 5, count: m * channels)
            var gotMaxima = [Int8](repeating: 5, count: m * channels)
            input.withUnsafeBufferPointer { x in
                weights.withUnsafeBufferPointer { w in
                    offsets.withUnsafeBufferPointer { o in
                        gotColumns.withUnsafeMutableBufferPointer { col in
                            NativeInt8NHWC.im2col(
                                isa: isa, window: window, input: x.baseAddress!, inChannels: inChannels, channels: channels,
                                pixels: pixels, columns: col.baseAddress!)
                        }
                        gotSums.withUnsafeMutableBufferPointer { s in
                            NativeInt8NHWC.depthwise(
                                isa: isa, window: window, input: x.baseAddress!, inChannels: inChannels,
                                weights: w.baseAddress!, weightStride: channels, n: channels, pixels: pixels,
                                sums: s.baseAddress!, lds: channels, stage: nil, out: nil, ldo: 0)
                        }
                        gotMaxima.withUnsafeMutableBufferPointer { y in
                            NativeInt8NHWC.maxPool(
                                isa: isa, window: window, input: x.baseAddress!, inChannels: inChannels, n: channels,
                                pixels: pixels, out: y.baseAddress!, ldo: channels)
                        }
                        var scratch = [Int32](repeating: 0, count: m * channels)
                        let native = NativeInt8NHWC.Stage(offsets: o.baseAddress!, shift: 9, lower: -128, upper: 96)
                        scratch.withUnsafeMutableBufferPointer { s in
                            gotStaged.withUnsafeMutableBufferPointer { y in
                                NativeInt8NHWC.depthwise(
                                    isa: isa, window: window, input: x.baseAddress!, inChannels: inChannels,
                                    weights: w.baseAddress!, weightStride: channels, n: channels, pixels: pixels,
                                    sums: s.baseAddress!, lds: channels, stage: native, out: y.baseAddress!, ldo: channels)
                            }
                        }
                    }
                }
            }
            #expect(gotColumns == columns, "im2col \(isa)")
            #expect(gotSums == sums, "depthwise \(isa)")
            #expect(gotStaged == staged, "depthwise + stage \(isa)")
            #expect(gotMaxima == maxima, "max pool \(isa)")
        }
    }

    @Test("GEMM with the fused stage equals the stage of the exact product, every instruction set")
    func fusedGEMM() {
        for (m, n, k) in [(13, 33, 27), (25, 48, 1025), (7, 16, 0), (30, 70, 600)] {
            let a = values(m * k, seed: UInt64(m + k))
            let b = values(k * n, seed: UInt64(n + 3 * k))
            let offsets = (0..<n).map { Int32($0 * 7919 % 60000) - 30000 }
            var expected = [Int8](repeating: 0, count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var sum: Int32 = 0
                    for p in 0..<k { sum &+= Int32(a[i * k + p]) * Int32(b[p * n + j]) }
                    expected[i * n + j] = stage(sum, offset: offsets[j], shift: 12, lower: 0, upper: 127)
                }
            }
            let packed = NativeInt8GEMM.PackedB(k: k, n: n, b: b, ldb: n)
            for isa in Self.isas {
                for threads in [1, 2] {
                    var c = [Int32](repeating: 0, count: m * n)
                    var y = [Int8](repeating: 5, count: m * n)
                    NativeKernels.withISA(isa) {
                        offsets.withUnsafeBufferPointer { o in
                            c.withUnsafeMutableBufferPointer { c in
                                y.withUnsafeMutableBufferPointer { y in
                                    NativeInt8GEMM.multiply(
                                        m: m, a: a, lda: k, packed: packed, c: c.baseAddress!, ldc: n,
                                        stage: NativeInt8NHWC.Stage(offsets: o.baseAddress!, shift: 12, lower: 0, upper: 127),
                                        out: y.baseAddress!, ldo: n, threads: threads)
                                }
                            }
                        }
                    }
                    #expect(y == expected, "\(isa) \(m)×\(n)×\(k) threads \(threads)")
                }
            }
        }
    }

    @Test("add and input quantization on every instruction set")
    func addAndQuantize() {
        let a = values(1000, seed: 1)
        let b = values(1000, seed: 2)
        let floats: [Float] = (0..<1003).map { i in
            switch i % 5 {
            case 0: Float(i - 500) / 8 + 0.0625
            case 1: .nan
            case 2: Float(i % 400 - 200) / 16
            case 3: i % 2 == 0 ? .infinity : -.infinity
            default: Float(i) * 0.37 - 180
            }
        }
        for isa in Self.isas {
            var sum = [Int8](repeating: 0, count: a.count)
            a.withUnsafeBufferPointer { x in
                b.withUnsafeBufferPointer { y in
                    sum.withUnsafeMutableBufferPointer { out in
                        NativeInt8NHWC.add(
                            isa: isa, count: a.count, a: x.baseAddress!, shiftA: 2, b: y.baseAddress!, shiftB: 0,
                            half: 4, shift: 3, lower: 0, upper: 127, out: out.baseAddress!)
                    }
                }
            }
            let expectedSum = (0..<a.count).map { i -> Int8 in
                let total: Int32 = (Int32(a[i]) << 2) + Int32(b[i]) + 4
                return Int8(min(max(total >> 3, 0), 127))
            }
            #expect(sum == expectedSum, "add \(isa)")
            for mode in RoundMode.allCases {
                for position in [-2, 0, 3, 7] {
                    var got = [Int8](repeating: 0, count: floats.count)
                    floats.withUnsafeBufferPointer { x in
                        got.withUnsafeMutableBufferPointer { out in
                            NativeInt8NHWC.quantize(isa: isa, x, fixPosition: position, mode: mode, into: out.baseAddress!)
                        }
                    }
                    let expected = floats.map { Int8(FixedPoint.quantize($0, fixPosition: position, mode: mode)) }
                    #expect(got == expected, "\(isa) \(mode) \(position)")
                }
            }
        }
    }
}
