import KilnCore
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

/// A `pads` operand.
private func pads(_ values: [Int64]) -> Tensor { Tensor(shape: [values.count], scalars: values) }

@Suite struct FoldPadTests {
    /// Pads folded into a conv (asymmetric, added to its own pads), a conv through `axes`,
    /// an average pool (count_include_pad becomes 1), a max pool over a ReLU (pad value 0)
    /// and a max pool with a −∞ pad value.
    static func before() throws -> Graph {
        try PassTesting.graph(opset: 18) { builder in
            builder.input("x", .float32, [1, 2, 6, 6])
            builder.initializer("w", PassTesting.random([3, 2, 3, 3], seed: 1))
            builder.initializer("asymmetric", pads([0, 0, 1, 2, 0, 0, 1, 0]))
            builder.initializer("ones", pads([0, 0, 1, 1, 0, 0, 1, 1]))
            builder.initializer("spatial_ones", pads([1, 1, 1, 1]))
            builder.initializer("spatial_axes", pads([2, 3]))
            builder.initializer("minus_inf", Tensor(scalar: -Float.infinity))
            builder.node("Pad", ["x", "asymmetric"], ["p1"])
            builder.node("Conv", ["p1", "w"], ["y1"], name: "conv", attributes: ["pads": .ints([1, 1, 1, 1])])
            builder.node("Pad", ["x", "spatial_ones", "", "spatial_axes"], ["p2"])
            builder.node("Conv", ["p2", "w"], ["y2"], name: "conv_axes")
            builder.node("Pad", ["x", "ones"], ["p3"])
            builder.node("AveragePool", ["p3"], ["y3"], name: "avg", attributes: ["kernel_shape": .ints([3, 3])])
            builder.node("Relu", ["x"], ["r"])
            builder.node("Pad", ["r", "ones"], ["p4"])
            builder.node(
                "MaxPool", ["p4"], ["y4"], name: "max_relu",
                attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2])])
            builder.node("Pad", ["x", "ones", "minus_inf"], ["p5"])
            builder.node("MaxPool", ["p5"], ["y5"], name: "max_inf", attributes: ["kernel_shape": .ints([2, 2])])
            builder.output("y1", .float32, [1, 3, 8, 8])
            builder.output("y2", .float32, [1, 3, 6, 6])
            builder.output("y3", .float32, [1, 2, 6, 6])
            builder.output("y4", .float32, [1, 2, 3, 3])
            builder.output("y5", .float32, [1, 2, 7, 7])
        }
    }

    @Test func foldsIntoConsumerPads() throws {
        let after = try PassTesting.run([.foldPad], on: Self.before())
        #expect(
            after.printed() == """
                graph test(%x: float32[1, 2, 6, 6]) -> (%y1, %y2, %y3, %y4, %y5) {
                  %w: float32[3, 2, 3, 3] = initializer
                  %y1: float32[1, 3, 8, 8] = conv(%x, %w) {pads=[2, 3, 2, 1]}   # conv
                  %y2: float32[1, 3, 6, 6] = conv(%x, %w) {pads=[1, 1, 1, 1]}   # conv_axes
                  %y3: float32[1, 2, 6, 6] = averagePool(%x) {count_include_pad=1, kernel_shape=[3, 3], pads=[1, 1, 1, 1]}   # avg
                  %r: float32[1, 2, 6, 6] = relu(%x)   # relu_6
                  %y4: float32[1, 2, 3, 3] = maxPool(%r) {kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]}   # max_relu
                  %y5: float32[1, 2, 7, 7] = maxPool(%x) {kernel_shape=[2, 2], pads=[1, 1, 1, 1]}   # max_inf
                }
                """)
    }

    @Test func outputsAreUnchanged() throws {
        let before = try Self.before()
        let after = try PassTesting.run([.foldPad], on: before)
        try PassTesting.expectSameOutputs(before, after, inputs: ["x": PassTesting.random([1, 2, 6, 6], seed: 4)])
    }

    /// Kept: reflect mode, padding of the channel axis, negative pads (a crop), a nonzero
    /// value, a second reader of the padded value, `auto_pad`, an average pool that
    /// excludes its own pads, a max pool padding 0 onto values that may be negative, a
    /// max pool with `ceil_mode`, a pool pad as large as the kernel.
    @Test func leavesIllegalPadsAlone() throws {
        let before = try PassTesting.graph(opset: 18) { builder in
            builder.input("x", .float32, [1, 2, 6, 6])
            builder.initializer("w", PassTesting.random([3, 2, 3, 3], seed: 1))
            builder.initializer("w4", PassTesting.random([3, 4, 3, 3], seed: 2))
            builder.initializer("ones", pads([0, 0, 1, 1, 0, 0, 1, 1]))
            builder.initializer("channels", pads([0, 1, 0, 0, 0, 1, 0, 0]))
            builder.initializer("crop", pads([0, 0, -1, 0, 0, 0, 0, 0]))
            builder.initializer("twos", pads([0, 0, 2, 2, 0, 0, 2, 2]))
            builder.initializer("one", Tensor(scalar: Float(1)))
            builder.node("Pad", ["x", "ones"], ["reflected"], attributes: ["mode": .string("reflect")])
            builder.node("Conv", ["reflected", "w"], ["y1"])
            builder.node("Pad", ["x", "channels"], ["wider"])
            builder.node("Conv", ["wider", "w4"], ["y2"])
            builder.node("Pad", ["x", "crop"], ["cropped"])
            builder.node("Conv", ["cropped", "w"], ["y3"])
            builder.node("Pad", ["x", "ones", "one"], ["ones_padded"])
            builder.node("Conv", ["ones_padded", "w"], ["y4"])
            builder.node("Pad", ["x", "ones"], ["shared"])
            builder.node("Conv", ["shared", "w"], ["y5"])
            builder.node("Pad", ["x", "ones"], ["p6"])
            builder.node("Conv", ["p6", "w"], ["y6"], attributes: ["auto_pad": .string("SAME_UPPER")])
            builder.node("Pad", ["x", "ones"], ["p7"])
            builder.node(
                "AveragePool", ["p7"], ["y7"],
                attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])])
            builder.node("Pad", ["x", "ones"], ["p8"])
            builder.node("MaxPool", ["p8"], ["y8"], attributes: ["kernel_shape": .ints([3, 3])])
            builder.node("Relu", ["x"], ["r"])
            builder.node("Pad", ["r", "ones"], ["p9"])
            builder.node(
                "MaxPool", ["p9"], ["y9"],
                attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "ceil_mode": .int(1)])
            builder.node("Pad", ["x", "twos"], ["p10"])
            builder.node(
                "AveragePool", ["p10"], ["y10"],
                attributes: ["kernel_shape": .ints([2, 2]), "count_include_pad": .int(1)])
            builder.output("y1", .float32, [1, 3, 6, 6])
            builder.output("y2", .float32, [1, 3, 4, 4])
            builder.output("y3", .float32, [1, 3, 3, 4])
            builder.output("y4", .float32, [1, 3, 6, 6])
            builder.output("shared", .float32, [1, 2, 8, 8])
            builder.output("y5", .float32, [1, 3, 6, 6])
            builder.output("y6", .float32, [1, 3, 8, 8])
            builder.output("y7", .float32, [1, 2, 8, 8])
            builder.output("y8", .float32, [1, 2, 6, 6])
            builder.output("y9", .float32, [1, 2, 4, 4])
            builder.output("y10", .float32, [1, 2, 9, 9])
        }
        let after = try PassTesting.run([.foldPad], on: before)
        #expect(after == before)
    }
}
