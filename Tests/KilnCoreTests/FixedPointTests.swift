import KilnCore
import Testing

@Suite struct FixedPointTests {
    @Test(arguments: [
        (-2.5, RoundMode.halfUp, -2.0), (2.5, .halfUp, 3), (-2.6, .halfUp, -3), (-0.5, .halfUp, 0),
        (2.5, .halfToEven, 2), (3.5, .halfToEven, 4), (-2.5, .halfToEven, -2),
        (-2.5, .halfAwayFromZero, -3), (2.5, .halfAwayFromZero, 3), (1.4999, .halfAwayFromZero, 1),
    ])
    func roundingModes(_ value: Double, _ mode: RoundMode, _ expected: Double) {
        #expect(mode.round(value) == expected)
    }

    /// Integer shifts agree with rounding the exact quotient, for every mode, sign and tie.
    @Test(arguments: RoundMode.allCases)
    func shiftRoundMatchesRealRounding(_ mode: RoundMode) {
        for shift in 1...6 {
            for value in Int64(-300)...300 {
                let exact = Double(value) / Double(1 << shift)
                #expect(FixedPoint.shiftRound(value, by: shift, mode: mode) == Int64(mode.round(exact)), "\(value) >> \(shift)")
            }
        }
        #expect(FixedPoint.shiftRound(-3, by: -2) == -12)
        #expect(FixedPoint.shiftRound(-5, by: 1, mode: .halfUp) == -2)  // −2.5 → −2
    }

    @Test func quantizeSaturatesAndRounds() {
        #expect(FixedPoint.quantize(1.0, fixPosition: 7, mode: .halfUp) == 127)
        #expect(FixedPoint.quantize(-1.0, fixPosition: 7, mode: .halfUp) == -128)
        #expect(FixedPoint.quantize(-0.15625, fixPosition: 4, mode: .halfUp) == -2)  // −2.5 → −2
        #expect(FixedPoint.quantize(-0.15625, fixPosition: 4, mode: .halfAwayFromZero) == -3)
        #expect(FixedPoint.quantize(.nan, fixPosition: 4, mode: .halfUp) == 0)
        #expect(FixedPoint.quantize(.infinity, fixPosition: 4, mode: .halfUp) == 127)
        #expect(FixedPoint.dequantize(-3, fixPosition: 2) == -0.75)
        #expect(FixedPoint.dequantize(5, fixPosition: -1) == 10)
    }

    @Test(arguments: [
        (3, 3, 7, 6), (5, 5, 10, 8), (6, 6, 7, 8), (3, 6, 7, 8), (6, 3, 7, 8), (7, 7, 21, 10), (14, 14, 21, 12),
        (2, 2, 1, 2), (1, 1, 1, 0), (4, 4, 1, 4), (2, 1, 1, 1),
    ])
    func averagePoolMultipliers(_ kh: Int, _ kw: Int, _ multiplier: Int, _ shift: Int) {
        let result = FixedPoint.averagePoolMultiplier(kernelHeight: kh, kernelWidth: kw)
        #expect(result.multiplier == multiplier && result.shift == shift)
    }

    /// Outside the special cases the multiplier approximates 1/n within 2^-(s+1).
    @Test func averagePoolSearchApproximatesTheMean() {
        for n in [10, 11, 13, 15, 20, 25, 49, 100] {
            let (m, s) = FixedPoint.averagePoolMultiplier(kernelHeight: n, kernelWidth: 1)
            let error = Swift.abs(Double(m) / Double(1 << s) - 1 / Double(n))
            #expect(error <= 1 / Double(1 << (s + 1)), "n=\(n): \(m)/2^\(s)")
            #expect(error < 0.01 / Double(n), "n=\(n): \(m)/2^\(s) is a poor approximation")
        }
    }

    @Test func activationConstants() {
        #expect(FixedPoint.leakyReluSlopeValue == 0.1015625)
        #expect(FixedPoint.hardSigmoidMultiplier.numerator == 2731 && FixedPoint.hardSigmoidMultiplier.shift == 14)
    }
}
