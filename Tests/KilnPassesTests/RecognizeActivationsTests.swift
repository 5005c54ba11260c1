import KilnCore
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct RecognizeActivationsTests {
    static var shape: [ONNXModelBuilder.ShapeEntry] { [1, 4, 3, 3] }

    /// The constants the patterns use.
    static func constants(_ builder: inout ONNXModelBuilder) {
        builder.initializer("zero", Tensor(scalar: Float(0)))
        builder.initializer("three", Tensor(scalar: Float(3)))
        builder.initializer("six", Tensor(scalar: Float(6)))
        builder.initializer("sixth", Tensor(shape: [1], scalars: [Float(1) / 6]))
    }

    /// Every spelling the pass recognizes, one output each.
    static func before() throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, shape)
            constants(&builder)
            builder.node("Clip", ["x", "zero", "six"], ["relu6_a"], name: "clip")
            builder.node("Max", ["x", "zero"], ["m"])
            builder.node("Min", ["m", "six"], ["relu6_b"], name: "min")
            builder.node("Sigmoid", ["x"], ["sg"])
            builder.node("Mul", ["sg", "x"], ["silu"], name: "silu_mul")
            builder.node("HardSigmoid", ["x"], ["hs"], attributes: ["alpha": .float(1.0 / 6), "beta": .float(0.5)])
            builder.node("Mul", ["hs", "x"], ["hswish_a"], name: "hswish_a")
            // x · (clip(x + 3, 0, 6) / 6)
            builder.node("Add", ["x", "three"], ["a1"])
            builder.node("Clip", ["a1", "zero", "six"], ["c1"])
            builder.node("Div", ["c1", "six"], ["d1"])
            builder.node("Mul", ["x", "d1"], ["hswish_b"], name: "hswish_b")
            // (x · min(max(3 + x, 0), 6)) / 6
            builder.node("Add", ["three", "x"], ["a2"])
            builder.node("Max", ["a2", "zero"], ["m2"])
            builder.node("Min", ["m2", "six"], ["c2"])
            builder.node("Mul", ["x", "c2"], ["p2"])
            builder.node("Div", ["p2", "six"], ["hswish_c"], name: "hswish_c")
            // (clip(x + 3, 0, 6) · x) · 1/6
            builder.node("Add", ["x", "three"], ["a3"])
            builder.node("Clip", ["a3", "zero", "six"], ["c3"])
            builder.node("Mul", ["c3", "x"], ["p3"])
            builder.node("Mul", ["p3", "sixth"], ["hswish_d"], name: "hswish_d")
            for name in ["relu6_a", "relu6_b", "silu", "hswish_a", "hswish_b", "hswish_c", "hswish_d"] {
                builder.output(name, .float32, shape)
            }
        }
    }

    @Test func recognizesEverySpelling() throws {
        let after = try PassTesting.run([.recognizeActivations], on: Self.before())
        #expect(
            after.printed() == """
                graph test(%x: float32[1, 4, 3, 3]) -> (%relu6_a, %relu6_b, %silu, %hswish_a, %hswish_b, %hswish_c, %hswish_d) {
                  %relu6_a: float32[1, 4, 3, 3] = relu6(%x)   # clip
                  %relu6_b: float32[1, 4, 3, 3] = relu6(%x)   # min
                  %silu: float32[1, 4, 3, 3] = silu(%x)   # silu_mul
                  %hswish_a: float32[1, 4, 3, 3] = hardSwish(%x)   # hswish_a
                  %hswish_b: float32[1, 4, 3, 3] = hardSwish(%x)   # hswish_b
                  %hswish_c: float32[1, 4, 3, 3] = hardSwish(%x)   # hswish_c
                  %hswish_d: float32[1, 4, 3, 3] = hardSwish(%x)   # hswish_d
                }
                """)
    }

    @Test func countsHitsPerRule() throws {
        let result = try Rewriter(RecognizeActivations.rules).rewrite(Self.before())
        #expect(
            result.hits == [
                "clip(x, 0, 6) -> relu6(x)": 1,
                "min(max(x, 0), 6) -> relu6(x)": 1,
                "mul(x, sigmoid(x)) -> silu(x)": 1,
                "mul(x, hard_sigmoid(x)) -> hard_swish(x)": 2,
                "mul(x, relu6(x + 3)) / 6 -> hard_swish(x)": 2,
            ])
        #expect(result.isConverged)
    }

    @Test func outputsAreUnchanged() throws {
        let before = try Self.before()
        let after = try PassTesting.run([.recognizeActivations], on: before)
        try PassTesting.expectSameOutputs(before, after, inputs: ["x": PassTesting.random([1, 4, 3, 3], scale: 8)])
    }

    /// Not recognized: other bounds, a non-constant bound, an intermediate with another
    /// reader, another operand, HardSigmoid's default alpha (0.2), a scale that would
    /// broadcast `x` to a higher rank.
    @Test func leavesLookAlikesAlone() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .float32, [4, 3])
            builder.input("z", .float32, [4, 3])
            builder.input("low", .float32, [])
            Self.constants(&builder)
            builder.initializer("five", Tensor(scalar: Float(5)))
            builder.initializer("six_4d", Tensor(shape: [1, 1, 1], scalars: [Float(6)]))
            builder.node("Clip", ["x", "zero", "five"], ["clip5"])
            builder.node("Clip", ["x", "low", "six"], ["clip_dynamic"])
            builder.node("Sigmoid", ["x"], ["gate"])
            builder.node("Mul", ["x", "gate"], ["shared_gate"])
            builder.node("Sigmoid", ["x"], ["gate2"])
            builder.node("Mul", ["z", "gate2"], ["other_operand"])
            builder.node("HardSigmoid", ["x"], ["hs"])
            builder.node("Mul", ["x", "hs"], ["default_alpha"])
            builder.node("Add", ["x", "three"], ["a"])
            builder.node("Clip", ["a", "zero", "six"], ["c"])
            builder.node("Mul", ["x", "c"], ["p"])
            builder.node("Div", ["p", "six_4d"], ["broadcast_up"])
            for name in ["clip5", "clip_dynamic", "gate", "shared_gate", "other_operand", "default_alpha"] {
                builder.output(name, .float32, [4, 3])
            }
            builder.output("broadcast_up", .float32, [1, 4, 3])
        }
        let after = try PassTesting.run([.recognizeActivations], on: before)
        // Only the inner clip(x + 3, 0, 6) becomes a relu6; the product stays.
        #expect(
            PassTesting.ops(after) == [
                .clip, .clip, .sigmoid, .mul, .sigmoid, .mul, .hardSigmoid, .mul, .add, .relu6, .mul, .div,
            ])
        try PassTesting.expectSameOutputs(
            before, after,
            inputs: [
                "x": PassTesting.random([4, 3], scale: 8), "z": PassTesting.random([4, 3], seed: 2),
                "low": Tensor(scalar: Float(-1)),
            ])
    }

    @Test func leavesIntegerClipAlone() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .int32, [4])
            builder.initializer("zero", Tensor(scalar: Int32(0)))
            builder.initializer("six", Tensor(scalar: Int32(6)))
            builder.node("Clip", ["x", "zero", "six"], ["y"])
            builder.output("y", .int32, [4])
        }
        let after = try PassTesting.run([.recognizeActivations], on: before)
        #expect(after == before)
    }
}
