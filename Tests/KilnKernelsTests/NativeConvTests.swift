import KilnCore
import Testing

@testable import KilnKernels

/// Native convolution paths (pointwise GEMM, im2col + GEMM, depthwise) with fused
/// bias and clamp, against the reference convolution.
struct NativeConvTests {
    static let cases: [ConvCase] = [
        ConvCase(input: [13, 29], kernel: [1, 1], channels: 9, outChannels: 20),
        ConvCase(input: [11, 23], kernel: [3, 3], channels: 5, outChannels: 17, pads: [1, 1, 1, 1]),
        // im2col with stride 2 on rows wide enough for the vector copy.
        ConvCase(input: [12, 45], kernel: [3, 3], channels: 3, outChannels: 8, strides: [2, 2], pads: [1, 1, 1, 1]),
        ConvCase(input: [20, 40], kernel: [7, 7], channels: 3, outChannels: 16, strides: [2, 2], pads: [3, 3, 3, 3]),
        // Depthwise on rows wide enough for the vector paths: stride 1 and 2, dilation.
        ConvCase(input: [12, 37], kernel: [3, 3], channels: 6, outChannels: 6, group: 6, pads: [1, 1, 1, 1]),
        ConvCase(input: [12, 41], kernel: [3, 3], channels: 6, outChannels: 6, group: 6, strides: [2, 2], pads: [1, 1, 1, 1]),
        ConvCase(input: [12, 40], kernel: [5, 5], channels: 3, outChannels: 6, group: 3, strides: [1, 2], dilations: [2, 1], pads: [2, 2, 2, 2]),
        ConvCase(input: [9, 30], kernel: [3, 3], channels: 4, outChannels: 4, group: 4, hasBias: false),
        // Same-size stride-1 im2col rows copied as one run: dilated rows, wide kernels, pads
        // larger than the kernel reach on one side.
        ConvCase(input: [7, 9], kernel: [3, 5], channels: 3, outChannels: 5, dilations: [2, 1], pads: [2, 2, 2, 2]),
        ConvCase(input: [6, 5], kernel: [5, 3], channels: 2, outChannels: 7, pads: [4, 1, 0, 1]),
        // Depthwise rows long enough for the 4-vector blocks (AVX2 32, AVX-512 64 outputs) and
        // their tails; narrow planes (all-tail rows); stride 3 phases; asymmetric pads; a
        // kernel wider than the input.
        ConvCase(input: [5, 70], kernel: [3, 3], channels: 3, outChannels: 3, group: 3, pads: [1, 1, 1, 1]),
        ConvCase(input: [6, 133], kernel: [3, 3], channels: 2, outChannels: 2, group: 2, strides: [2, 2], pads: [1, 1, 1, 1]),
        ConvCase(input: [7, 5], kernel: [3, 3], channels: 4, outChannels: 8, group: 4, pads: [1, 1, 1, 1]),
        ConvCase(input: [9, 50], kernel: [3, 5], channels: 2, outChannels: 2, group: 2, strides: [2, 3], dilations: [1, 2], pads: [0, 3, 2, 1]),
        ConvCase(input: [4, 3], kernel: [3, 5], channels: 2, outChannels: 2, group: 2, pads: [1, 2, 1, 2]),
    ]

    @Test("fused ReLU/clip matches the reference followed by a clamp", arguments: cases)
    func fusedClamp(config: ConvCase) throws {
        let operands = try ConvOperands(config, seed: UInt64(config.input.reduce(1, *) + config.outChannels))
        let (input, weight, bias, geometry, shape) = (
            operands.input, operands.weight, operands.bias, operands.geometry, operands.shape
        )
        var reference = Tensor(zeros: shape, dtype: .float32)
        ReferenceConvolution.conv(input, weight, bias, group: config.group, geometry: geometry, output: &reference, as: Float.self)
        let plain = reference.scalars(as: Float.self)
        for (lower, upper) in [(Float(0), Float.infinity), (-0.3, 0.6), (-Float.infinity, Float.infinity)] {
            let expected = plain.map { min(upper, max(lower, $0)) }
            for isa in NativeGemmTests.isas {
                for threads in [1, 2] {
                    var output = Tensor(zeros: shape, dtype: .float32)
                    try NativeKernels.withISA(isa) {
                        try Convolution.conv(
                            input: input, weight: weight, bias: bias, group: config.group, geometry: geometry,
                            output: &output, lower: lower, upper: upper, threads: threads)
                    }
                    let actual = output.scalars(as: Float.self)
                    let worst = zip(actual, expected).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
                    #expect(worst <= 1e-4, "\(isa) clamp \(lower)…\(upper) threads \(threads): \(worst)")
                }
            }
        }
    }

    @Test func fusedClampRejectsOtherDTypes() throws {
        let input = Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4] as [Double])
        let weight = Tensor(shape: [1, 1, 1, 1], scalars: [1] as [Double])
        let geometry = try WindowGeometry.forward(input: [2, 2], kernel: [1, 1], strides: nil, dilations: nil, pads: nil, autoPad: .notSet)
        var output = Tensor(zeros: [1, 1, 2, 2], dtype: .float64)
        #expect(throws: KilnError.self) {
            try Convolution.conv(input: input, weight: weight, bias: nil, group: 1, geometry: geometry, output: &output, lower: 0, threads: 1)
        }
    }
}

/// Pre-packed convolution weights and the packed-A GEMM.
struct PackedWeightTests {
    @Test("packed Conv weights give the unpacked result", arguments: NativeConvTests.cases + [
        ConvCase(input: [6, 7], kernel: [3, 3], channels: 4, outChannels: 6, group: 2, pads: [1, 1, 1, 1]),
        ConvCase(input: [17], kernel: [5], strides: [3], dilations: [2], pads: [2, 2]),
    ])
    func packedConv(config: ConvCase) throws {
        let operands = try ConvOperands(config, seed: 21)
        let (input, weight, bias, geometry, shape) = (
            operands.input, operands.weight, operands.bias, operands.geometry, operands.shape
        )
        let packed = try Convolution.PackedWeights(weight: weight, group: config.group)
        for threads in [1, 2] {
            var expected = Tensor(zeros: shape, dtype: .float32)
            try Convolution.conv(input: input, weight: weight, bias: bias, group: config.group, geometry: geometry, output: &expected, lower: 0, threads: threads)
            var actual = Tensor(zeros: shape, dtype: .float32)
            try Convolution.conv(input: input, packed: packed, bias: bias, geometry: geometry, output: &actual, lower: 0, threads: threads)
            // Identical arithmetic when the native SGEMM runs; the Swift fallback rounds differently.
            let worst = zip(actual.scalars(as: Float.self), expected.scalars(as: Float.self)).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
            #expect(NativeKernels.hasFastSgemm ? actual == expected : worst <= 1e-5, "threads \(threads)")
        }
    }

    @Test("packed A matches the reference product", arguments: [(1, 1, 1), (7, 19, 300), (67, 33, 67), (13, 70, 5)])
    func packedA(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var random = TestRandom(seed: 5)
        let aT = random.floats(k * m)  // stored transposed
        let b = random.floats(k * n)
        var opA = [Float](repeating: 0, count: m * k)
        for i in 0..<m { for p in 0..<k { opA[i * k + p] = aT[p * m + i] } }
        var product = [Float](repeating: 0, count: m * n)
        ReferenceLinearAlgebra.matMul(m: m, n: n, k: k, a: opA, b: b, c: &product)
        for isa in NativeGemmTests.isas {
            for transA in [false, true] {
                NativeKernels.withISA(isa) {
                    let packed = transA
                        ? Gemm.PackedA(m: m, k: k, alpha: 2, a: aT, lda: m, transA: true)
                        : Gemm.PackedA(m: m, k: k, alpha: 2, a: opA, lda: k, transA: false)
                    for threads in [1, 2] {
                        var c = [Float](repeating: 1, count: m * n)
                        c.withUnsafeMutableBufferPointer { out in
                            Gemm.multiply(packed: packed, n: n, b: b, ldb: n, transB: false, beta: 1, c: out.baseAddress!, ldc: n, threads: threads)
                        }
                        let worst = zip(c, product).map { abs($0 - (2 * $1 + 1)) / (1 + abs(2 * $1 + 1)) }.max() ?? 0
                        #expect(worst <= 1e-4, "\(isa) transA \(transA) threads \(threads)")
                    }
                }
            }
        }
    }
}
