import KilnCore
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct FuseConvBiasTests {
    /// Three convolutions followed by a per-channel constant: `[1, 3, 1, 1]` on a conv
    /// without bias, `[3, 1, 1]` (first operand) on a conv with bias, a scalar on a
    /// transposed conv.
    static func before() throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, [1, 2, 5, 5])
            builder.initializer("w", PassTesting.random([3, 2, 3, 3], seed: 1))
            builder.initializer("b", PassTesting.random([3], seed: 2))
            builder.initializer("wt", PassTesting.random([2, 3, 2, 2], seed: 3))
            builder.initializer("bias_4d", PassTesting.random([1, 3, 1, 1], seed: 4))
            builder.initializer("bias_3d", PassTesting.random([3, 1, 1], seed: 5))
            builder.initializer("half", Tensor(scalar: Float(0.5)))
            builder.node("Conv", ["x", "w"], ["c1"], name: "conv1")
            builder.node("Add", ["c1", "bias_4d"], ["y1"])
            builder.node("Conv", ["x", "w", "b"], ["c2"], name: "conv2")
            builder.node("Add", ["bias_3d", "c2"], ["y2"])
            builder.node("ConvTranspose", ["x", "wt"], ["c3"], name: "deconv")
            builder.node("Add", ["c3", "half"], ["y3"])
            builder.output("y1", .float32, [1, 3, 3, 3])
            builder.output("y2", .float32, [1, 3, 3, 3])
            builder.output("y3", .float32, [1, 3, 6, 6])
        }
    }

    /// (New constants are numbered in rewrite order, outputs first.)
    @Test func movesTheConstantIntoTheBias() throws {
        let after = try PassTesting.run([.fuseConvBias], on: Self.before())
        #expect(
            after.printed() == """
                graph test(%x: float32[1, 2, 5, 5]) -> (%y1, %y2, %y3) {
                  %w: float32[3, 2, 3, 3] = initializer
                  %wt: float32[2, 3, 2, 2] = initializer
                  %deconv_bias: float32[3] = initializer
                  %conv2_bias: float32[3] = initializer
                  %conv1_bias: float32[3] = initializer
                  %y1: float32[1, 3, 3, 3] = conv(%x, %w, %conv1_bias)   # conv1
                  %y2: float32[1, 3, 3, 3] = conv(%x, %w, %conv2_bias)   # conv2
                  %y3: float32[1, 3, 6, 6] = convTranspose(%x, %wt, %deconv_bias)   # deconv
                }
                """)
        let bias = try #require(after.valueID(named: "deconv_bias"))
        #expect(after.initializers[bias] == Tensor(shape: [3], scalars: [0.5, 0.5, 0.5] as [Float]))
    }

    @Test func outputsAreUnchanged() throws {
        let before = try Self.before()
        let after = try PassTesting.run([.fuseConvBias], on: before)
        try PassTesting.expectSameOutputs(before, after, inputs: ["x": PassTesting.random([1, 2, 5, 5], seed: 7)])
    }

    /// Kept: a per-pixel addend, an addend along the width (`[3]` against `[…, 3, 3]`), a
    /// conv result with another reader, an addend that is a graph input, a bias that is
    /// a graph input.
    @Test func leavesNonChannelAddendsAlone() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .float32, [1, 2, 5, 5])
            builder.input("live", .float32, [1, 3, 1, 1])
            builder.input("live_bias", .float32, [3])
            builder.initializer("w", PassTesting.random([3, 2, 3, 3], seed: 1))
            builder.initializer("per_pixel", PassTesting.random([1, 3, 3, 3], seed: 2))
            builder.initializer("along_width", PassTesting.random([3], seed: 3))
            builder.initializer("bias_4d", PassTesting.random([1, 3, 1, 1], seed: 4))
            builder.node("Conv", ["x", "w"], ["c1"])
            builder.node("Add", ["c1", "per_pixel"], ["y1"])
            builder.node("Conv", ["x", "w"], ["c2"])
            builder.node("Add", ["c2", "along_width"], ["y2"])
            builder.node("Conv", ["x", "w"], ["shared"])
            builder.node("Add", ["shared", "bias_4d"], ["y3"])
            builder.node("Conv", ["x", "w"], ["c4"])
            builder.node("Add", ["c4", "live"], ["y4"])
            builder.node("Conv", ["x", "w", "live_bias"], ["c5"])
            builder.node("Add", ["c5", "bias_4d"], ["y5"])
            for name in ["y1", "y2", "shared", "y3", "y4", "y5"] { builder.output(name, .float32, [1, 3, 3, 3]) }
        }
        let after = try PassTesting.run([.fuseConvBias], on: before)
        #expect(after == before)
    }
}
