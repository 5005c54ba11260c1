import KilnCore
import Testing

@testable import KilnKernels

/// The channel-blocked AVX-512 convolution against the reference and against the
/// pixel-vectorized direct kernel, whose arithmetic it shares bit for bit: every tile shape
/// (1 to 4 blocks of 16 channels, runs of 1 to 14 outputs, a row's shorter last run), strides,
/// dilation, asymmetric pads, 1×1 downsampling, pointwise read in place, the fused clamp and
/// the summand.
struct BlockedConvTests {
    static let cases: [ConvCase] = [
        // Two blocks a tile, rows of 16 in two runs of 8, batch 2.
        ConvCase(input: [16, 16], kernel: [3, 3], channels: 16, outChannels: 64, pads: [1, 1, 1, 1]),
        // Five blocks: tiles of two and a last one of one; runs of 10, 10 and 9 outputs.
        ConvCase(input: [6, 29], kernel: [3, 3], channels: 8, outChannels: 80, pads: [1, 1, 1, 1], batch: 1),
        // Rows of 7 or fewer take four blocks a tile: 4 + 1, 4 + 2 and 4 + 3 blocks.
        ConvCase(input: [7, 7], kernel: [3, 3], channels: 12, outChannels: 80, pads: [1, 1, 1, 1], batch: 1),
        ConvCase(input: [12, 12], kernel: [3, 3], channels: 9, outChannels: 96, strides: [2, 2], pads: [1, 1, 1, 1], batch: 1),
        ConvCase(input: [5, 3], kernel: [2, 2], channels: 10, outChannels: 112, pads: [1, 0, 0, 1], batch: 1),
        // Strided 1×1 downsampling (no padding), stride 3 across, dilation, runs of 14.
        ConvCase(input: [14, 14], kernel: [1, 1], channels: 32, outChannels: 64, strides: [2, 2], pads: [0, 0, 0, 0]),
        ConvCase(input: [11, 100], kernel: [3, 3], channels: 8, outChannels: 64, strides: [1, 3], dilations: [2, 1], pads: [2, 0, 1, 2], batch: 1),
        ConvCase(input: [9, 28], kernel: [3, 3], channels: 8, outChannels: 64, dilations: [1, 2], pads: [1, 2, 1, 2], hasBias: false),
        // Many taps (k = 576), the 7×7/2 shape of a stem with enough channels.
        ConvCase(input: [8, 8], kernel: [3, 3], channels: 64, outChannels: 64, pads: [1, 1, 1, 1], batch: 1),
        ConvCase(input: [23, 23], kernel: [7, 7], channels: 8, outChannels: 64, strides: [2, 2], pads: [3, 3, 3, 3], batch: 1),
        // Pointwise, read in place: a 7×7 image, and many input channels on a wider one.
        ConvCase(input: [7, 7], kernel: [1, 1], channels: 24, outChannels: 64),
        ConvCase(input: [9, 10], kernel: [1, 1], channels: 192, outChannels: 64, batch: 1),
    ]

    @Test("blocked convolution matches the reference, with clamp and summand", arguments: cases)
    func matchesReference(config: ConvCase) throws {
        guard NativeKernels.cpuISA >= .avx512 else { return }
        let operands = try ConvOperands(config, seed: UInt64(config.input.reduce(1, *) * 11 + config.outChannels))
        #expect(Convolution.floatPath(
            channels: config.channels, weight: operands.weight.shape, group: 1, geometry: operands.geometry) == .blocked)
        // Packed without the geometry (1×1 weights then take the GEMM's layout) and with it.
        try operands.expectPathsMatchReference(group: 1, packed: try Convolution.PackedWeights(weight: operands.weight, group: 1))
        try operands.expectPathsMatchReference(
            group: 1, packed: try Convolution.PackedWeights(weight: operands.weight, group: 1, geometry: operands.geometry))
    }

    @Test("blocked and direct kernels compute the same bits", arguments: cases.filter { $0.kernel != [1, 1] })
    func matchesDirectKernel(config: ConvCase) throws {
        guard NativeKernels.cpuISA >= .avx512 else { return }
        let operands = try ConvOperands(config, seed: 3)
        let window = operands.geometry.padded3D
        let blocked = BlockedConvolution.pack(operands.weight)
        let direct = DirectConvolution.pack(operands.weight)
        let bias = operands.bias?.scalars(as: Float.self)
        var random = TestRandom(seed: 9)
        let summand = random.floats(operands.shape.reduce(1, *))
        for threads in [1, 2] {
            var outputs: [[Float]] = []
            for (weights, run) in [(blocked, BlockedConvolution.run), (direct, DirectConvolution.run)] {
                var output = summand
                operands.input.withUnsafeBufferPointer(as: Float.self) { x in
                    weights.withUnsafeBufferPointer { w in
                        output.withUnsafeMutableBufferPointer { y in
                            (bias ?? []).withUnsafeBufferPointer { b in
                                run(
                                    x.baseAddress!, config.channels, config.batch, w.baseAddress!, config.outChannels,
                                    b.baseAddress, window, y.baseAddress!, (-1, 2), true, threads)
                            }
                        }
                    }
                }
                outputs.append(output)
            }
            #expect(outputs[0].map(\.bitPattern) == outputs[1].map(\.bitPattern), "threads \(threads)")
        }
    }

    @Test func takesManyChannelUngroupedConvolutions() throws {
        let geometry = try WindowGeometry.forward(input: [8, 8], kernel: [3, 3], strides: nil, dilations: nil, pads: nil, autoPad: .notSet)
        let pointwise = try WindowGeometry.forward(input: [16, 16], kernel: [1, 1], strides: nil, dilations: nil, pads: nil, autoPad: .notSet)
        let smallPointwise = try WindowGeometry.forward(input: [8, 8], kernel: [1, 1], strides: nil, dilations: nil, pads: nil, autoPad: .notSet)
        let downsampling = try WindowGeometry.forward(input: [8, 8], kernel: [1, 1], strides: [2, 2], dilations: nil, pads: nil, autoPad: .notSet)
        #expect(BlockedConvolution.accepts(weight: [512, 512, 3, 3], group: 1))
        #expect(BlockedConvolution.accepts(weight: [64, 8, 1, 1], group: 1))
        #expect(!BlockedConvolution.accepts(weight: [32, 64, 3, 3], group: 1))
        #expect(!BlockedConvolution.accepts(weight: [72, 64, 3, 3], group: 1))
        #expect(!BlockedConvolution.accepts(weight: [64, 3, 7, 7], group: 1))
        #expect(!BlockedConvolution.accepts(weight: [64, 32, 3, 3], group: 2))
        // Pointwise: on 256 pixels with 64 input channels the GEMM's; with 192, or on 64 pixels, blocked.
        #expect(!BlockedConvolution.runs(weight: [64, 64, 1, 1], group: 1, window: pointwise.padded3D))
        let avx512 = NativeKernels.cpuISA >= .avx512
        #expect(BlockedConvolution.runs(weight: [64, 192, 1, 1], group: 1, window: pointwise.padded3D) == avx512)
        #expect(BlockedConvolution.runs(weight: [64, 64, 1, 1], group: 1, window: smallPointwise.padded3D) == avx512)
        #expect(BlockedConvolution.runs(weight: [64, 64, 1, 1], group: 1, window: downsampling.padded3D) == avx512)
        #expect(BlockedConvolution.runs(weight: [64, 64, 3, 3], group: 1, window: geometry.padded3D) == avx512)
        NativeKernels.withISA(.avx2) {
            #expect(!BlockedConvolution.runs(weight: [64, 64, 3, 3], group: 1, window: geometry.padded3D))
        }
    }
}
