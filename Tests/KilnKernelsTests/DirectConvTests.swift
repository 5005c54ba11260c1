import KilnCore
import Testing

@testable import KilnKernels

/// The direct AVX-512 convolution against the reference: plain and folded pixel vectors
/// (rows of 8 outputs or fewer), stride 1, 2 and 3 phases, dilation, channel counts that are
/// not multiples of the 4-channel tile, the fused clamp and the summand.
struct DirectConvTests {
    static let cases: [ConvCase] = [
        ConvCase(input: [16, 16], kernel: [3, 3], channels: 16, outChannels: 16, pads: [1, 1, 1, 1], batch: 1),
        // Folded: 8, 5 and 3 outputs a row, an odd row count (last vector one row).
        ConvCase(input: [16, 16], kernel: [3, 3], channels: 9, outChannels: 10, strides: [2, 2], pads: [1, 1, 1, 1]),
        ConvCase(input: [9, 5], kernel: [3, 3], channels: 4, outChannels: 7, pads: [1, 1, 1, 1]),
        ConvCase(input: [7, 7], kernel: [5, 5], channels: 3, outChannels: 5, pads: [0, 0, 0, 0]),
        // Stride 2 rows wide enough for the vector phase copy (and its masked tail), 7×7 stem.
        ConvCase(input: [21, 75], kernel: [7, 7], channels: 3, outChannels: 13, strides: [2, 2], pads: [3, 3, 3, 3]),
        // Stride 2 with even pads (even columns to phase 0), none, and odd widths past 32.
        ConvCase(input: [13, 70], kernel: [5, 5], channels: 3, outChannels: 6, strides: [2, 2], pads: [2, 2, 2, 2]),
        ConvCase(input: [9, 33], kernel: [3, 3], channels: 5, outChannels: 4, strides: [2, 2], pads: [0, 0, 0, 0]),
        ConvCase(input: [8, 37], kernel: [3, 3], channels: 2, outChannels: 5, strides: [2, 2], pads: [1, 2, 0, 1]),
        // Stride 3 (scalar phase copy), dilation, asymmetric pads, several vectors a row.
        ConvCase(input: [11, 100], kernel: [3, 3], channels: 2, outChannels: 6, strides: [1, 3], dilations: [2, 1], pads: [2, 0, 1, 2]),
        ConvCase(input: [6, 41], kernel: [2, 3], channels: 5, outChannels: 3, dilations: [1, 3], pads: [0, 3, 1, 3], hasBias: false),
        // Many taps (k > 256) and output channels near the limit (not a multiple of 16: the
        // blocked kernel's would be taken).
        ConvCase(input: [10, 18], kernel: [3, 3], channels: 40, outChannels: 120, pads: [1, 1, 1, 1], batch: 1),
    ]

    @Test("direct convolution matches the reference, with clamp and summand", arguments: cases)
    func matchesReference(config: ConvCase) throws {
        guard NativeKernels.cpuISA >= .avx512 else { return }
        let operands = try ConvOperands(config, seed: UInt64(config.input.reduce(1, *) * 7 + config.outChannels))
        #expect(Convolution.floatPath(
            channels: config.channels, weight: operands.weight.shape, group: 1, geometry: operands.geometry) == .direct)
        try operands.expectPathsMatchReference(group: 1, packed: try Convolution.PackedWeights(weight: operands.weight, group: 1))
    }

    @Test func takesOnlySmallUngroupedSpatialConvolutions() throws {
        let geometry = try WindowGeometry.forward(input: [8, 8], kernel: [3, 3], strides: nil, dilations: nil, pads: nil, autoPad: .notSet)
        let pointwise = try WindowGeometry.forward(input: [8, 8], kernel: [1, 1], strides: nil, dilations: nil, pads: nil, autoPad: .notSet)
        #expect(DirectConvolution.accepts(weight: [128, 64, 3, 3], group: 1))
        #expect(!DirectConvolution.accepts(weight: [129, 64, 3, 3], group: 1))
        #expect(!DirectConvolution.accepts(weight: [32, 16, 3, 3], group: 2))
        #expect(!DirectConvolution.accepts(weight: [32, 16, 1, 1], group: 1))
        #expect(!DirectConvolution.accepts(weight: [32, 16, 3], group: 1))
        NativeKernels.withISA(.avx2) {
            #expect(!DirectConvolution.runs(weight: [32, 16, 3, 3], group: 1, window: geometry.padded3D))
        }
        #expect(!DirectConvolution.runs(weight: [32, 16, 1, 1], group: 1, window: pointwise.padded3D))
        #expect(DirectConvolution.runs(weight: [32, 16, 3, 3], group: 1, window: geometry.padded3D) == (NativeKernels.cpuISA >= .avx512))
    }
}
