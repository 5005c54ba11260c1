import KilnCore
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct FoldBatchNormTests {
    /// Inference BatchNormalization statistics over `channels`, named `prefix_*`.
    static func statistics(_ builder: inout ONNXModelBuilder, _ channels: Int, seed: UInt64 = 10) -> [String] {
        let gamma = PassTesting.random([channels], seed: seed, scale: 0.5).scalars(as: Float.self).map { $0 + 1 }
        let variance = PassTesting.random([channels], seed: seed + 3, scale: 0.4).scalars(as: Float.self).map {
            $0 + 0.8
        }
        builder.initializer("gamma", Tensor(shape: [channels], scalars: gamma))
        builder.initializer("beta", PassTesting.random([channels], seed: seed + 1, scale: 0.2))
        builder.initializer("mean", PassTesting.random([channels], seed: seed + 2, scale: 0.2))
        builder.initializer("var", Tensor(shape: [channels], scalars: variance))
        return ["gamma", "beta", "mean", "var"]
    }

    /// `batch_norm(conv(x, W, b))`, 3×3, pads 1.
    static func conv() throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, [1, 2, 5, 5])
            builder.initializer("w", PassTesting.random([3, 2, 3, 3], seed: 1))
            builder.initializer("b", PassTesting.random([3], seed: 2))
            builder.node("Conv", ["x", "w", "b"], ["c"], name: "conv", attributes: ["pads": .ints([1, 1, 1, 1])])
            builder.node(
                "BatchNormalization", ["c"] + statistics(&builder, 3), ["y"], name: "bn",
                attributes: ["epsilon": .float(1e-3)])
            builder.output("y", .float32, [1, 3, 5, 5])
        }
    }

    /// `batch_norm(conv_transpose(x, W))` with two groups: 4 input and 6 output channels.
    static func convTranspose() throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, [1, 4, 3, 3])
            builder.initializer("w", PassTesting.random([4, 3, 2, 2], seed: 3))
            builder.node(
                "ConvTranspose", ["x", "w"], ["c"], name: "deconv",
                attributes: ["group": .int(2), "strides": .ints([2, 2])])
            builder.node("BatchNormalization", ["c"] + statistics(&builder, 6), ["y"], name: "bn")
            builder.output("y", .float32, [1, 6, 6, 6])
        }
    }

    /// `batch_norm(gemm(x, W, C))` with `transB` and `alpha`/`beta`, or without `C`.
    static func gemm(transB: Bool, hasC: Bool) throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, [2, 4])
            builder.initializer("w", PassTesting.random(transB ? [5, 4] : [4, 5], seed: 4))
            var inputs = ["x", "w"]
            if hasC {
                builder.initializer("c", PassTesting.random([1, 5], seed: 5))
                inputs.append("c")
            }
            builder.node(
                "Gemm", inputs, ["g"], name: "fc",
                attributes: ["transB": .int(transB ? 1 : 0), "alpha": .float(0.5), "beta": .float(2)])
            builder.node("BatchNormalization", ["g"] + statistics(&builder, 5), ["y"], name: "bn")
            builder.output("y", .float32, [2, 5])
        }
    }

    @Test func foldsIntoConv() throws {
        let after = try PassTesting.run([.foldBatchNorm], on: Self.conv())
        #expect(
            after.printed() == """
                graph test(%x: float32[1, 2, 5, 5]) -> (%y) {
                  %w_bn: float32[3, 2, 3, 3] = initializer
                  %conv_bias_bn: float32[3] = initializer
                  %y: float32[1, 3, 5, 5] = conv(%x, %w_bn, %conv_bias_bn) {pads=[1, 1, 1, 1]}   # conv
                }
                """)
    }

    @Test func foldsIntoGroupedConvTranspose() throws {
        let after = try PassTesting.run([.foldBatchNorm], on: Self.convTranspose())
        #expect(
            after.printed() == """
                graph test(%x: float32[1, 4, 3, 3]) -> (%y) {
                  %w_bn: float32[4, 3, 2, 2] = initializer
                  %deconv_bias_bn: float32[6] = initializer
                  %y: float32[1, 6, 6, 6] = convTranspose(%x, %w_bn, %deconv_bias_bn) {group=2, strides=[2, 2]}   # deconv
                }
                """)
    }

    @Test func foldsIntoGemmAbsorbingBeta() throws {
        let after = try PassTesting.run([.foldBatchNorm], on: Self.gemm(transB: true, hasC: true))
        #expect(
            after.printed() == """
                graph test(%x: float32[2, 4]) -> (%y) {
                  %w_bn: float32[5, 4] = initializer
                  %fc_bias_bn: float32[5] = initializer
                  %y: float32[2, 5] = gemm(%x, %w_bn, %fc_bias_bn) {alpha=0.5, transB=1}   # fc
                }
                """)
    }

    static let cases = ["conv", "convTranspose", "gemm", "gemm transB", "gemm transB no C"]

    static func graph(_ name: String) throws -> Graph {
        switch name {
        case "conv": try conv()
        case "convTranspose": try convTranspose()
        case "gemm": try gemm(transB: false, hasC: true)
        case "gemm transB": try gemm(transB: true, hasC: true)
        default: try gemm(transB: true, hasC: false)
        }
    }

    @Test(arguments: cases)
    func outputsAreUnchanged(_ name: String) throws {
        let before = try Self.graph(name)
        let after = try PassTesting.run([.foldBatchNorm], on: before)
        #expect(!PassTesting.ops(after).contains(.batchNormalization))
        let x = before[before.inputs[0]]
        let inputs = [x.name: PassTesting.random(x.type.staticShape ?? [], seed: 9)]
        try PassTesting.expectSameOutputs(before, after, inputs: inputs)
    }

    /// Kept: the conv result has another reader; a statistic is a graph input; the weights
    /// are a graph input; `C` varies per row.
    @Test func leavesIllegalFoldsAlone() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .float32, [1, 2, 4, 4])
            builder.input("w_in", .float32, [2, 2, 1, 1])
            builder.input("live_mean", .float32, [2])
            builder.input("v", .float32, [2, 4])
            builder.initializer("w", PassTesting.random([2, 2, 1, 1], seed: 1))
            builder.initializer("fc_w", PassTesting.random([4, 2], seed: 2))
            builder.initializer("per_row", PassTesting.random([2, 2], seed: 3))
            let stats = Self.statistics(&builder, 2)
            builder.node("Conv", ["x", "w"], ["shared"])
            builder.node("BatchNormalization", ["shared"] + stats, ["y1"])
            builder.node("Conv", ["x", "w"], ["c2"])
            builder.node("BatchNormalization", ["c2", "gamma", "beta", "live_mean", "var"], ["y2"])
            builder.node("Conv", ["x", "w_in"], ["c3"])
            builder.node("BatchNormalization", ["c3"] + stats, ["y3"])
            builder.node("Gemm", ["v", "fc_w", "per_row"], ["g"])
            builder.node("BatchNormalization", ["g"] + stats, ["y4"])
            for name in ["shared", "y1", "y2", "y3"] { builder.output(name, .float32, [1, 2, 4, 4]) }
            builder.output("y4", .float32, [2, 2])
        }
        let after = try PassTesting.run([.foldBatchNorm], on: before)
        #expect(after == before)
    }
}
