import KilnCore
import Testing

/// The DPU's layer pipelines (`FixedPoint+Layers.swift`), checked against values worked out
/// by hand from `docs/dpu-arithmetic.md`.
@Suite struct FixedPointLayersTests {
    /// `total · 2^-shift`, rounded half up (−2.5 → −2), saturated.
    @Test(arguments: [
        (Int64(-5), 1, -2), (5, 1, 3), (-6, 2, -1), (-10, 2, -2), (1000, 0, 127), (-1000, 0, -128),
        (3, -2, 12), (100, -3, 127), (0, -50, 0), (-7, 60, 0),
    ])
    func requantizeRoundsHalfUpAndSaturates(_ total: Int64, _ shift: Int, _ expected: Int) {
        #expect(FixedPoint.requantize(total, shift: shift, outputPosition: 0) == expected)
    }

    @Test func activationsApplyBeforeRounding() {
        // ReLU: −2.5 → 0, not −2.
        #expect(FixedPoint.requantize(-5, shift: 1, activation: .relu, outputPosition: 3) == 0)
        // LeakyReLU: −256 · 26/256 = −26; −10 · 26/256 = −1.015625 → −1; −20 · 26/256 = −2.03125 → −2.
        #expect(FixedPoint.requantize(-256, shift: 0, activation: .leakyRelu, outputPosition: 3) == -26)
        #expect(FixedPoint.requantize(-10, shift: 0, activation: .leakyRelu, outputPosition: 3) == -1)
        #expect(FixedPoint.requantize(-40, shift: 1, activation: .leakyRelu, outputPosition: 3) == -2)
        #expect(FixedPoint.requantize(40, shift: 1, activation: .leakyRelu, outputPosition: 3) == 20)
        // ReLU6 at output position 4: the clamp is 96 (= 6); above 4 saturation clamps.
        #expect(FixedPoint.requantize(200, shift: 1, activation: .relu6, outputPosition: 4) == 96)
        #expect(FixedPoint.requantize(190, shift: 1, activation: .relu6, outputPosition: 4) == 95)
        #expect(FixedPoint.requantize(200, shift: 1, activation: .relu6, outputPosition: 5) == 100)
        #expect(FixedPoint.requantize(-9, shift: 1, activation: .relu6, outputPosition: 4) == 0)
    }

    /// conv2d-fix: `(2·acc + ⌊2·b·2^shift_bias⌋) / 2^(shift_cut+1)`.
    @Test func convolutionOutputStage() {
        // acc 7, bias 3 with shift_bias 1 (aligned 12), shift_cut 3: (14 + 12) / 16 = 1.625 → 2.
        #expect(FixedPoint.alignedBias(3, shiftBias: 1) == 12)
        #expect(
            FixedPoint.convolution(
                accumulator: 7, bias: 3, shiftBias: 1, shiftCut: 3, activation: nil, outputPosition: 2) == 2)
        // shift_bias −1 keeps the half bit: ⌊2 · 3 / 2⌋ = 3; shift_bias −2 floors: ⌊2 · 3 / 4⌋ = 1, ⌊−6 / 4⌋ = −2.
        #expect(FixedPoint.alignedBias(3, shiftBias: -1) == 3)
        #expect(FixedPoint.alignedBias(3, shiftBias: -2) == 1)
        #expect(FixedPoint.alignedBias(-3, shiftBias: -2) == -2)
        // −2.5 rounds to −2: acc −5, no bias, shift_cut 1: −10 / 4 = −2.5 → −2. A large acc saturates.
        #expect(
            FixedPoint.convolution(
                accumulator: -5, bias: nil, shiftBias: 0, shiftCut: 1, activation: nil, outputPosition: 0) == -2)
        #expect(
            FixedPoint.convolution(
                accumulator: 20000, bias: nil, shiftBias: 0, shiftCut: 0, activation: nil, outputPosition: 0) == 127)
    }

    @Test func elementwiseAlignment() {
        // 3 at position 2 (0.75) + 5 at position 4 (0.3125) = 1.0625, output position 3: 8.5 → 9.
        #expect(FixedPoint.add([(3, 2), (5, 4)], activation: nil, outputPosition: 3) == 9)
        // −0.75 + 0.4375 = −0.3125 at position 3: −2.5 → −2; with ReLU: 0.
        #expect(FixedPoint.add([(-3, 2), (7, 4)], activation: nil, outputPosition: 3) == -2)
        #expect(FixedPoint.add([(-3, 2), (7, 4)], activation: .relu, outputPosition: 3) == 0)
        // 0.75 · 0.3125 = 0.234375 at position 5: 7.5 → 8.
        #expect(FixedPoint.multiply((3, 2), (5, 4), outputPosition: 5) == 8)
    }

    /// `relu6(x + 3) · 2731 / 2^14`, rounded at the output position.
    @Test func hardSigmoidConstants() {
        // x = 0 (any input position): 3 · 2731 / 16384 = 0.50006 → 64 at position 7.
        #expect(FixedPoint.hardSigmoid(0, inputPosition: 4, outputPosition: 7) == 64)
        // x = 3.0 (48 at position 4): 6 · 2731 / 16384 = 1.0001 → 128 → saturates to 127.
        #expect(FixedPoint.hardSigmoid(48, inputPosition: 4, outputPosition: 7) == 127)
        // x = −3.0 and below: 0.
        #expect(FixedPoint.hardSigmoid(-48, inputPosition: 4, outputPosition: 7) == 0)
        #expect(FixedPoint.hardSigmoid(-128, inputPosition: 4, outputPosition: 7) == 0)
        // x = 1.0 (16 at position 4): 4 · 2731 / 16384 = 0.66675 → 85.34 → 85.
        #expect(FixedPoint.hardSigmoid(16, inputPosition: 4, outputPosition: 7) == 85)
        // Hard swish of 1.0: gate 85 at position 7, 16 · 85 = 1360 at position 11, output position 4: 85 → 1360/128 = 10.625 → 11.
        #expect(FixedPoint.hardSwish(16, inputPosition: 4, outputPosition: 4) == 11)
        #expect(FixedPoint.hardSwish(-16, inputPosition: 4, outputPosition: 4) == -5)  // −16 · 43 / 128 = −5.375 → −5
    }

    @Test func averagePoolUsesTheDPUMultiplier() {
        // A 3×3 window of 64s sums to 576; · 7/64 = 63 (the true mean is 64).
        #expect(
            FixedPoint.averagePool(sum: 576, kernelHeight: 3, kernelWidth: 3, inputPosition: 4, outputPosition: 4) == 63
        )
        // 7×7 of 10s: 490 · 21/1024 = 10.05 → 10.
        #expect(
            FixedPoint.averagePool(sum: 490, kernelHeight: 7, kernelWidth: 7, inputPosition: 0, outputPosition: 0) == 10
        )
        // 2×2 is exact: 10 · 1/4 = 2.5 → 3; to a position one finer: 5.
        #expect(
            FixedPoint.averagePool(sum: 10, kernelHeight: 2, kernelWidth: 2, inputPosition: 0, outputPosition: 0) == 3)
        #expect(
            FixedPoint.averagePool(sum: 10, kernelHeight: 2, kernelWidth: 2, inputPosition: 0, outputPosition: 1) == 5)
    }
}

extension FixedPointLayersTests {
    /// Positions far outside the DPU's shift ranges saturate instead of trapping.
    @Test func extremeValuesSaturateWithoutTrapping() {
        #expect(FixedPoint.requantize(Int64.max, shift: -30, outputPosition: 0) == 127)
        #expect(FixedPoint.requantize(Int64.min + 1, shift: -30, activation: .relu, outputPosition: 0) == 0)
        #expect(FixedPoint.requantize(-(1 << 50), shift: -20, activation: .leakyRelu, outputPosition: 0) == -128)
        #expect(
            FixedPoint.convolution(
                accumulator: Int64.max / 2, bias: 100, shiftBias: 60, shiftCut: 0, activation: nil, outputPosition: 0)
                == 127)
        #expect(FixedPoint.add([(100, -40), (-3, 40)], activation: nil, outputPosition: 0) == 127)
        #expect(
            FixedPoint.averagePool(sum: Int64.max, kernelHeight: 3, kernelWidth: 3, inputPosition: 0, outputPosition: 0)
                == 127)
        #expect(FixedPoint.hardSigmoid(Int64.min, inputPosition: 40, outputPosition: 7) == 0)
    }
}
