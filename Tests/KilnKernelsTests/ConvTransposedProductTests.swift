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
        let operands = try ConvOperands(config, seed: UInt64(config.outChannels * 13 + config.channels))
        let pixels = Tensor.elementCount(operands.geometry.output)
        let depth = config.channels / config.group * config.kernel.reduce(1, *)
        #expect(
            TransposedProduct.runs(pixels: pixels, outChannels: config.outChannels / config.group, depth: depth)
                == NativeKernels.hasFastSgemm)
        let packed = try Convolution.PackedWeights(weight: operands.weight, group: config.group, outputPixels: pixels)
        try operands.expectPathsMatchReference(group: config.group, packed: packed)
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
