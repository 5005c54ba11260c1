import KilnCore
import Testing

import KilnKernels

/// One convolution configuration: spatial input extents, kernel, group and channel counts.
struct ConvCase: CustomTestStringConvertible, Sendable {
    var input: [Int]
    var kernel: [Int]
    var channels = 3
    var outChannels = 4
    var group = 1
    var strides: [Int]? = nil
    var dilations: [Int]? = nil
    var pads: [Int]? = nil
    var autoPad = AutoPad.notSet
    var hasBias = true
    var batch = 2

    var testDescription: String {
        "in \(input) k \(kernel) C\(channels)→\(outChannels) g\(group) s\(strides ?? []) d\(dilations ?? []) p\(pads ?? []) \(autoPad.rawValue)"
    }
}

private func expectClose(_ actual: Tensor, _ expected: Tensor, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, sourceLocation: sourceLocation)
    let a = actual.scalars(as: Float.self)
    let e = expected.scalars(as: Float.self)
    let worst = zip(a, e).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
    #expect(worst <= 1e-4, "worst relative error \(worst)", sourceLocation: sourceLocation)
}

struct ConvTests {
    static let convCases: [ConvCase] = [
        ConvCase(input: [9, 11], kernel: [3, 3]),
        ConvCase(input: [9, 11], kernel: [3, 3], strides: [2, 3], pads: [1, 0, 2, 1]),
        ConvCase(input: [10, 7], kernel: [3, 2], dilations: [2, 3], pads: [2, 2, 2, 2]),
        ConvCase(input: [8, 8], kernel: [3, 3], strides: [2, 2], autoPad: .sameUpper),
        ConvCase(input: [8, 9], kernel: [4, 3], strides: [3, 2], autoPad: .sameLower, hasBias: false),
        ConvCase(input: [8, 9], kernel: [1, 1], channels: 5, outChannels: 7),
        ConvCase(input: [8, 9], kernel: [1, 1], strides: [2, 2], hasBias: false),
        ConvCase(input: [6, 7], kernel: [3, 3], channels: 4, outChannels: 6, group: 2, pads: [1, 1, 1, 1]),
        // Depthwise, with and without a channel multiplier; strided and dilated.
        ConvCase(input: [9, 10], kernel: [3, 3], channels: 4, outChannels: 4, group: 4, pads: [1, 1, 1, 1]),
        ConvCase(input: [9, 10], kernel: [3, 5], channels: 3, outChannels: 6, group: 3, strides: [2, 3], dilations: [1, 2], pads: [0, 2, 1, 1]),
        ConvCase(input: [17], kernel: [4], channels: 2, outChannels: 2, group: 2, strides: [2], pads: [3, 1]),
        ConvCase(input: [17], kernel: [5], strides: [3], dilations: [2], pads: [2, 2]),
        ConvCase(input: [5, 6, 7], kernel: [2, 3, 3], strides: [1, 2, 1], pads: [1, 0, 1, 0, 1, 1]),
        ConvCase(input: [5, 6, 7], kernel: [3, 3, 3], channels: 2, outChannels: 2, group: 2, dilations: [2, 1, 2], autoPad: .sameUpper),
    ]

    private func operands(_ config: ConvCase, transposed: Bool) -> (Tensor, Tensor, Tensor?) {
        var random = TestRandom(seed: UInt64(config.input.reduce(7, *) + config.kernel.reduce(3, *)))
        let input = Tensor(shape: [config.batch, config.channels] + config.input, scalars: random.floats(config.batch * config.channels * config.input.reduce(1, *)))
        let weightShape = transposed
            ? [config.channels, config.outChannels / config.group] + config.kernel
            : [config.outChannels, config.channels / config.group] + config.kernel
        let weight = Tensor(shape: weightShape, scalars: random.floats(weightShape.reduce(1, *)))
        let bias = config.hasBias ? Tensor(shape: [config.outChannels], scalars: random.floats(config.outChannels)) : nil
        return (input, weight, bias)
    }

    @Test("fast Conv matches the direct reference", arguments: convCases)
    func convMatchesReference(config: ConvCase) throws {
        let (input, weight, bias) = operands(config, transposed: false)
        let geometry = try WindowGeometry.forward(
            input: config.input, kernel: config.kernel, strides: config.strides, dilations: config.dilations,
            pads: config.pads, autoPad: config.autoPad)
        let shape = try Convolution.outputShape(input: input.shape, weight: weight.shape, bias: bias?.shape, group: config.group, geometry: geometry)
        var expected = Tensor(zeros: shape, dtype: .float32)
        ReferenceConvolution.conv(input, weight, bias, group: config.group, geometry: geometry, output: &expected, as: Float.self)
        var one = Tensor(zeros: shape, dtype: .float32)
        try Convolution.conv(input: input, weight: weight, bias: bias, group: config.group, geometry: geometry, output: &one, threads: 1)
        expectClose(one, expected)
        var two = Tensor(zeros: shape, dtype: .float32)
        try Convolution.conv(input: input, weight: weight, bias: bias, group: config.group, geometry: geometry, output: &two, threads: 2)
        #expect(one == two)
    }

    static let transposedCases: [ConvCase] = [
        ConvCase(input: [4, 5], kernel: [3, 3]),
        ConvCase(input: [4, 5], kernel: [3, 2], strides: [3, 2], pads: [1, 0, 2, 1]),
        ConvCase(input: [4, 5], kernel: [3, 3], channels: 4, outChannels: 6, group: 2, strides: [2, 2], dilations: [2, 1]),
        ConvCase(input: [7], kernel: [4], strides: [3], pads: [1, 2]),
        ConvCase(input: [3, 4, 2], kernel: [2, 3, 2], strides: [2, 1, 2], hasBias: false),
    ]

    @Test("fast ConvTranspose matches the scatter reference", arguments: transposedCases)
    func convTransposeMatchesReference(config: ConvCase) throws {
        let (input, weight, bias) = operands(config, transposed: true)
        let geometry = try WindowGeometry.transposed(
            input: config.input, kernel: config.kernel, strides: config.strides, dilations: config.dilations,
            pads: config.pads, autoPad: config.autoPad, outputPadding: nil, outputShape: nil)
        let shape = try TransposedConvolution.outputShape(input: input.shape, weight: weight.shape, bias: bias?.shape, group: config.group, geometry: geometry)
        var expected = Tensor(zeros: shape, dtype: .float32)
        ReferenceConvolution.convTranspose(input, weight, bias, group: config.group, geometry: geometry, output: &expected, as: Float.self)
        var one = Tensor(zeros: shape, dtype: .float32)
        try TransposedConvolution.convTranspose(input: input, weight: weight, bias: bias, group: config.group, geometry: geometry, output: &one, threads: 1)
        expectClose(one, expected)
        var two = Tensor(zeros: shape, dtype: .float32)
        try TransposedConvolution.convTranspose(input: input, weight: weight, bias: bias, group: config.group, geometry: geometry, output: &two, threads: 2)
        #expect(one == two)
    }

    @Test func convTransposeOutputShapeSplitsPaddingLikeONNX() throws {
        // Full output 9 (stride 3, 3 inputs, kernel 3); asking for 10 pads one at the end.
        let geometry = try WindowGeometry.transposed(
            input: [3], kernel: [3], strides: [3], dilations: nil, pads: nil, autoPad: .notSet,
            outputPadding: nil, outputShape: [10])
        #expect(geometry.output == [10])
        #expect(geometry.padsBegin == [0])
        #expect(geometry.padsEnd == [-1])
    }

    @Test func ceilModeDropsAWindowStartingInThePadding() throws {
        // ONNX: the last window must start inside the input or the begin padding.
        let geometry = try WindowGeometry.forward(
            input: [4], kernel: [1], strides: [2], dilations: nil, pads: nil, autoPad: .notSet, ceilMode: true)
        #expect(geometry.output == [2])
        let padded = try WindowGeometry.forward(
            input: [5], kernel: [3], strides: [3], dilations: nil, pads: [1, 1], autoPad: .notSet, ceilMode: true)
        #expect(padded.output == [2])
    }

    @Test func averagePoolCountsPaddingButNotTheCeilOverhang() throws {
        // Input 1…7, kernel 3, stride 2, pads 1/0, ceil: windows start at -1, 1, 3, 5; the
        // first covers one pad tap, the last one tap past the input that ceil_mode added.
        let input = Tensor(shape: [1, 1, 7], scalars: [1, 2, 3, 4, 5, 6, 7] as [Float])
        let geometry = try WindowGeometry.forward(
            input: [7], kernel: [3], strides: [2], dilations: nil, pads: [1, 0], autoPad: .notSet, ceilMode: true)
        #expect(geometry.output == [4])
        var included = Tensor(zeros: [1, 1] + geometry.output, dtype: .float32)
        try Pooling.averagePool(input: input, geometry: geometry, countIncludePad: true, output: &included, threads: 1)
        #expect(included.scalars(as: Float.self) == [1, 3, 5, 6.5])
        var excluded = Tensor(zeros: [1, 1] + geometry.output, dtype: .float32)
        try Pooling.averagePool(input: input, geometry: geometry, countIncludePad: false, output: &excluded, threads: 1)
        #expect(excluded.scalars(as: Float.self) == [1.5, 3, 5, 6.5])
    }
}
