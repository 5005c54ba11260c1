import KilnCore
import Testing

@testable import KilnKernels

/// Native convolution paths (pointwise GEMM, im2col + GEMM, depthwise) with fused
/// bias and clamp, against the reference convolution.
struct NativeConvTests {
    static let cases: [ConvCase] = [
        ConvCase(input: [13, 29], kernel: [1, 1], channels: 9, outChannels: 20),
        ConvCase(input: [11, 23], kernel: [3, 3], channels: 5, outChannels: 17, pads: [1, 1, 1, 1]),
        // Depthwise on rows wide enough for the vector paths: stride 1 and 2, dilation.
        ConvCase(input: [12, 37], kernel: [3, 3], channels: 6, outChannels: 6, group: 6, pads: [1, 1, 1, 1]),
        ConvCase(input: [12, 41], kernel: [3, 3], channels: 6, outChannels: 6, group: 6, strides: [2, 2], pads: [1, 1, 1, 1]),
        ConvCase(input: [12, 40], kernel: [5, 5], channels: 3, outChannels: 6, group: 3, strides: [1, 2], dilations: [2, 1], pads: [2, 2, 2, 2]),
        ConvCase(input: [9, 30], kernel: [3, 3], channels: 4, outChannels: 4, group: 4, hasBias: false),
    ]

    @Test("fused ReLU/clip matches the reference followed by a clamp", arguments: cases)
    func fusedClamp(config: ConvCase) throws {
        var random = TestRandom(seed: UInt64(config.input.reduce(1, *) + config.outChannels))
        let input = Tensor(
            shape: [config.batch, config.channels] + config.input,
            scalars: random.floats(config.batch * config.channels * config.input.reduce(1, *)))
        let weightShape = [config.outChannels, config.channels / config.group] + config.kernel
        let weight = Tensor(shape: weightShape, scalars: random.floats(weightShape.reduce(1, *)))
        let bias = config.hasBias ? Tensor(shape: [config.outChannels], scalars: random.floats(config.outChannels)) : nil
        let geometry = try WindowGeometry.forward(
            input: config.input, kernel: config.kernel, strides: config.strides, dilations: config.dilations,
            pads: config.pads, autoPad: config.autoPad)
        let shape = try Convolution.outputShape(input: input.shape, weight: weight.shape, bias: bias?.shape, group: config.group, geometry: geometry)
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
