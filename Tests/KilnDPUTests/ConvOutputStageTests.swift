import KilnCore
import Testing

@testable import KilnDPU

/// The emulator's hoisted output stage equals `FixedPoint.convolution` / `averagePool`: for
/// each shift, activation, output position and bias, every small accumulator, every one
/// around each rounding threshold of the int8 range, and the int32 extremes; average pools
/// over every reachable window sum.
@Suite struct ConvOutputStageTests {
    static let activations: [FixedPoint.Activation?] = [nil, .relu, .relu6, .leakyRelu]

    /// The accumulators to check for shift `s = shiftCut + 1` and aligned bias `b`: every one
    /// with `|acc| ≤ 2^12`, every one within 3 of a rounding threshold of the output range
    /// (`2·acc + b = (q ± ½)·2^s`, and `26·(2·acc + b) = (q ± ½)·2^(s+8)` for LeakyReLU), and
    /// the int32 extremes with a stride across the range.
    static func accumulators(shift: Int, alignedBias: Int64) -> [Int32] {
        var values = Array(Int32(-4096)...Int32(4096))
        values += stride(from: Int32.min / 2, to: Int32.max / 2, by: 1_048_573)
        values += [Int32.min, Int32.min + 1, Int32.max, Int32.max - 1]
        guard shift > 0, shift < 40 else { return values }
        for q in Int64(-140)...Int64(140) {
            var totals = [q << Int64(shift) - (Int64(1) << Int64(shift - 1))]
            if q <= 0 { totals.append((q << Int64(shift + 8) - (Int64(1) << Int64(shift + 7))) / 26) }
            for total in totals {
                let center = (total - alignedBias) / 2
                for delta in Int64(-3)...Int64(3) {
                    values.append(Int32(clamping: center + delta))
                }
            }
        }
        return values
    }

    @Test(arguments: [-3, -1, 0, 1, 2, 3, 5, 7, 9, 12, 16, 30, 54, 55, 60])
    func convolutionStageIsExact(_ shiftCut: Int) {
        let biases: [Int64?] = [nil, 0, 1, -1, 127, -128, 37, -91]
        var mismatches = 0
        var checked = 0
        for activation in Self.activations {
            for outputPosition in [3, 4, 5] {
                for shiftBias in [-4, 0, 3] {
                    // Without a bound (64-bit stages) and with K = 2^14's bound (the 32-bit stage).
                    for (bias, bound) in biases.flatMap({ bias in [(bias, nil), (bias, 1 << 28)] }) {
                        let stage = ConvOutputStage(
                            channels: 1, bias: bias.map { [$0] }, shiftBias: shiftBias, shiftCut: shiftCut,
                            activation: activation, outputPosition: outputPosition, accumulatorBound: bound)
                        let aligned = bias.map { FixedPoint.alignedBias($0, shiftBias: shiftBias) } ?? 0
                        let values = Self.accumulators(shift: shiftCut + 1, alignedBias: aligned).filter { value in
                            bound.map { Int(value.magnitude) <= $0 } ?? true
                        }
                        var out = [Int8](repeating: 0, count: values.count)
                        values.withUnsafeBufferPointer { acc in
                            out.withUnsafeMutableBufferPointer { out in
                                // One channel: the stage walks the row with a fixed bias via `first`.
                                for index in acc.indices {
                                    stage.apply(acc.baseAddress! + index, count: 1, first: 0, to: out.baseAddress! + index)
                                }
                            }
                        }
                        for (value, result) in zip(values, out) {
                            let expected = FixedPoint.convolution(
                                accumulator: Int64(value), bias: bias, shiftBias: shiftBias, shiftCut: shiftCut,
                                activation: activation, outputPosition: outputPosition)
                            if Int(result) != expected { mismatches += 1 }
                            checked += 1
                        }
                    }
                }
            }
        }
        #expect(mismatches == 0, "shiftCut \(shiftCut): \(mismatches) of \(checked)")
        // The 32-bit stage is taken where it applies.
        let stage = ConvOutputStage(
            channels: 1, bias: [5], shiftBias: 0, shiftCut: shiftCut, activation: .relu, outputPosition: 4,
            accumulatorBound: 1 << 28)
        #expect((stage.kind == .clamp32) == (0...30).contains(shiftCut))
    }

    /// A row of channels with different biases (the per-channel constants), against the scalar function.
    @Test func perChannelRow() {
        let biases: [Int64] = (0..<37).map { Int64($0 * 7 % 256 - 128) }
        let accumulators: [Int32] = (0..<37).map { Int32($0 * 1931 % 9000 - 4500) }
        for activation in Self.activations {
            let stage = ConvOutputStage(
                channels: biases.count, bias: biases, shiftBias: -1, shiftCut: 6, activation: activation,
                outputPosition: 4, accumulatorBound: 1 << 20)
            var out = [Int8](repeating: 0, count: 30)
            accumulators.withUnsafeBufferPointer { acc in
                out.withUnsafeMutableBufferPointer { out in
                    stage.apply(acc.baseAddress! + 7, count: 30, first: 7, to: out.baseAddress!)
                }
            }
            for j in 0..<30 {
                #expect(
                    Int(out[j])
                        == FixedPoint.convolution(
                            accumulator: Int64(accumulators[7 + j]), bias: biases[7 + j], shiftBias: -1, shiftCut: 6,
                            activation: activation, outputPosition: 4))
            }
        }
    }

    @Test func averagePoolStageIsExact() {
        for kernel in [(1, 1), (2, 2), (3, 3), (2, 3), (5, 5), (7, 7), (4, 4)] {
            for inputPosition in [0, 3, 6] {
                for outputPosition in [-2, 1, 3, 6, 9] {
                    let stage = ConvOutputStage(
                        averagePoolKernel: kernel, inputPosition: inputPosition, outputPosition: outputPosition)
                    let count = kernel.0 * kernel.1
                    let sums = Array(Int32(-128 * count)...Int32(127 * count))
                    var out = [Int8](repeating: 0, count: sums.count)
                    sums.withUnsafeBufferPointer { sums in
                        out.withUnsafeMutableBufferPointer { out in
                            stage.apply(sums.baseAddress!, count: sums.count, first: 0, to: out.baseAddress!)
                        }
                    }
                    let mismatches = zip(sums, out).filter { sum, value in
                        Int(value)
                            != FixedPoint.averagePool(
                                sum: Int64(sum), kernelHeight: kernel.0, kernelWidth: kernel.1,
                                inputPosition: inputPosition, outputPosition: outputPosition)
                    }.count
                    #expect(mismatches == 0, "kernel \(kernel) p_in \(inputPosition) p_out \(outputPosition)")
                }
            }
        }
    }
}

/// The element-wise add's arithmetic stage equals `FixedPoint.add` on every operand pair
/// where it is built, and is built for right shifts, no shift and left shifts alike (all but
/// LeakyReLU).
@Suite struct AddStageTests {
    @Test func equalsFixedPointAdd() {
        var built = 0
        for (pa, pb, pout) in [(4, 5, 3), (5, 5, 4), (6, 3, 2), (7, 7, 7), (3, 6, 6), (2, 2, 5), (6, 4, 1)] {
            for activation in [nil, .relu, .relu6, .leakyRelu] as [FixedPoint.Activation?] {
                let op = DPUElementwise(
                    isAdd: true, inputPositions: [pa, pb], outputPosition: pout, activation: activation,
                    shiftRead: [0, 0], shiftWrite: 0)
                var table = [Int8](repeating: 0, count: 65_536)
                for a in -128...127 {
                    for b in -128...127 {
                        table[(a + 128) * 256 + (b + 128)] = Int8(
                            FixedPoint.add(
                                [(Int64(a), pa), (Int64(b), pb)], activation: activation, outputPosition: pout))
                    }
                }
                guard let stage = AddStage(op, table: table) else {
                    #expect(activation == .leakyRelu, "\(pa) \(pb) \(pout) \(String(describing: activation))")
                    continue
                }
                built += 1
                var mismatches = 0
                for a in Int32(-128)...127 {
                    for b in Int32(-128)...127 where stage.apply(a, b) != table[Int((a + 128) * 256 + (b + 128))] {
                        mismatches += 1
                    }
                }
                #expect(mismatches == 0)
            }
        }
        #expect(built == 21)
    }
}
