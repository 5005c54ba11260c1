import Foundation
import KilnCore
import KilnQuant
import Testing

@Suite struct QuantizationPlanTests {
    @Test func fixPositionScalesArePowersOfTwo() {
        let q = TensorQuantization.fixPosition(5, roundMode: .halfUp, method: .minmax)
        #expect(q.scales == [1.0 / 32])
        #expect(q.integerRange == -128...127)
    }

    @Test func planRoundTripsThroughJSON() throws {
        var plan = QuantizationPlan(scale: .pow2, target: "DPUCZDX8G_ISA1_B4096", method: .mse, calibrationSamples: 16)
        plan.tensors["conv0_out"] = .fixPosition(4, roundMode: .halfUp, method: .mse)
        plan.adjustments = ["conv0: shift_cut 17 > 16, weight fix position 9 → 8"]
        let data = try JSONEncoder().encode(plan)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"fix_position\":4") && text.contains("\"round_mode\":\"dpu_round\""))
        #expect(try JSONDecoder().decode(QuantizationPlan.self, from: data) == plan)
    }
}
