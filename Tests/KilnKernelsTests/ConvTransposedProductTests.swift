import KilnCore
import Testing

@testable import KilnKernels

/// Convolutions whose product runs transposed (few output pixels, many channels) against the
/// reference: pointwise and 3×3, grouped, batched, with clamp and summand; packed for those
/// shapes or not, the same bits.
struct ConvTransposedProductTests {
    static let cases: [ConvCase] = [
        ConvCase(input: [7, 7], kernel: [3, 3], channels: 64, outChannels: 64, pads: [1, 1, 1, 1]),
        ConvCase(input: [7, 7], kernel: [1, 1], channels: 520, outChannels: 96, batch: 1),
        ConvCase(input: [14, 14], kernel: [3, 3], channels: 60, outChannels: 128, strides: [2, 2], pads: [1, 1, 1, 1]),
        ConvCase(input: [5, 9], kernel: [3, 3], channels: 120, outChannels: 128, group: 2, pads: [1, 0, 1, 2]),
        ConvCase(input: [3, 3], kernel: [3, 3], channels: 70, outChannels: 70, pads: [1, 1, 1, 1]),
    ]

    @Test("transposed product matches the reference, with clamp and summand", arguments: cases)
    func matchesReference(config: ConvCase) throws {
        var random = TestRandom(seed: UInt64(config.outChannels * 13 + config.channels))
        let input = Tensor(
            shape: [config.batch, config.channels] + config.input,
            scalars: random.floats(config.batch * config.channels * config.input.reduce(1, *)))
        let weightShape = [config.outChannels, config.channels / config.group] + config.kernel
        let weight = Tensor(shape: weightShape, scalars: random.floats(weightShape.reduce(1, *)))
        let bias = config.hasBias ? Tensor(shape: [config.outChannels], scalars: random.floats(config.outChannels)) : nil
        let geometry = try WindowGeometry.forward(
            input: config.input, kernel: config.kernel, strides: config.strides, dilations: config.dilations,
            pads: config.pads, autoPad: config.autoPad)
        let shape = try Convolution.outputShape(
            input: input.shape, weight: weight.shape, bias: bias?.shape, group: config.group, geometry: geometry)
        let pixels = Tensor.elementCount(geometry.output)
        let depth = config.channels / config.group * config.kernel.reduce(1, *)
        #expect(
            TransposedProduct.runs(pixels: pixels, outChannels: config.outChannels / config.group, depth: depth)
                == NativeKernels.hasFastSgemm)
        var reference = Tensor(zeros: shape, dtype: .float32)
        ReferenceConvolution.conv(input, weight, bias, group: config.group, geometry: geometry, output: &reference, as: Float.self)
        let summand = random.floats(reference.count)
        let packed = try Convolution.PackedWeights(weight: weight, group: config.group, outputPixels: pixels)
        for (lower, upper) in [(Float(0), Float(1.5)), (-Float.infinity, Float.infinity)] {
            for accumulate in [false, true] {
                let expected = zip(reference.scalars(as: Float.self), summand).map { value, z in
                    min(upper, max(lower, value + (accumulate ? z : 0)))
                }
                for threads in [1, 2] {
                    var outputs: [Tensor] = []
                    for usePacked in [false, true] {
                        var output = accumulate ? Tensor(shape: shape, scalars: summand) : Tensor(zeros: shape, dtype: .float32)
                        if usePacked {
                            try Convolution.conv(
                                input: input, packed: packed, bias: bias, geometry: geometry, output: &output, lower: lower,
                                upper: upper, accumulate: accumulate, threads: threads)
                        } else {
                            try Convolution.conv(
                                input: input, weight: weight, bias: bias, group: config.group, geometry: geometry,
                                output: &output, lower: lower, upper: upper, accumulate: accumulate, threads: threads)
                        }
                        let worst = zip(output.scalars(as: Float.self), expected).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
                        #expect(worst <= 1e-4, "packed \(usePacked) accumulate \(accumulate) threads \(threads): \(worst)")
                        outputs.append(output)
                    }
                    #expect(outputs[0] == outputs[1], "packed and unpacked differ (threads \(threads))")
                }
            }
        }
    }

    @Test func runsWhereTheTilesFillBetter() {
        guard NativeKernels.hasFastSgemm else { return }
        #expect(TransposedProduct.runs(pixels: 49, outChannels: 512, depth: 4608))
        #expect(TransposedProduct.runs(pixels: 196, outChannels: 256, depth: 2304))
        #expect(!TransposedProduct.runs(pixels: 196, outChannels: 576, depth: 96))
        #expect(!TransposedProduct.runs(pixels: 784, outChannels: 128, depth: 1152))
        #expect(!TransposedProduct.runs(pixels: 3136, outChannels: 64, depth: 576))
        #expect(!TransposedProduct.runs(pixels: 49, outChannels: 32, depth: 4608))
    }
}
