import KilnCore
import Testing

@testable import KilnKernels

/// The operands of a ``ConvCase`` and a check shared by the fast convolution paths' tests.
struct ConvOperands {
    let input: Tensor
    let weight: Tensor
    let bias: Tensor?
    let geometry: WindowGeometry
    /// The output shape.
    let shape: [Int]

    /// Random operands for `config` from `seed`.
    init(_ config: ConvCase, seed: UInt64) throws {
        var random = TestRandom(seed: seed)
        input = Tensor(
            shape: [config.batch, config.channels] + config.input,
            scalars: random.floats(config.batch * config.channels * config.input.reduce(1, *)))
        let weightShape = [config.outChannels, config.channels / config.group] + config.kernel
        weight = Tensor(shape: weightShape, scalars: random.floats(weightShape.reduce(1, *)))
        bias = config.hasBias ? Tensor(shape: [config.outChannels], scalars: random.floats(config.outChannels)) : nil
        geometry = try WindowGeometry.forward(
            input: config.input, kernel: config.kernel, strides: config.strides, dilations: config.dilations,
            pads: config.pads, autoPad: config.autoPad)
        shape = try Convolution.outputShape(
            input: input.shape, weight: weight.shape, bias: bias?.shape, group: config.group, geometry: geometry)
    }

    /// `Convolution.conv` with `packed` weights and without, at 1 and 2 threads, with and
    /// without a clamp and a summand: within 1e-4 of the reference, and the packed and
    /// unpacked results bit for bit the same (the path depends only on the shapes).
    func expectPathsMatchReference(group: Int, packed: Convolution.PackedWeights) throws {
        var reference = Tensor(zeros: shape, dtype: .float32)
        ReferenceConvolution.conv(input, weight, bias, group: group, geometry: geometry, output: &reference, as: Float.self)
        var random = TestRandom(seed: 5)
        let summand = random.floats(reference.count)
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
                                input: input, weight: weight, bias: bias, group: group, geometry: geometry, output: &output,
                                lower: lower, upper: upper, accumulate: accumulate, threads: threads)
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
}
