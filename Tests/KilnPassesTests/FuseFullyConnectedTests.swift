import KilnCore
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct FuseFullyConnectedTests {
    /// `matmul + add`, `flatten → matmul + add` (bias first, `[1, 4]`), `gemm + add` and a
    /// bare `matmul`.
    static func before() throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, ["batch", 8])
            builder.input("t", .float32, [2, 2, 2, 2])
            builder.initializer("w", PassTesting.random([8, 4], seed: 1))
            builder.initializer("w_t", PassTesting.random([4, 8], seed: 2))
            builder.initializer("b", PassTesting.random([4], seed: 3))
            builder.initializer("b_row", PassTesting.random([1, 4], seed: 4))
            builder.initializer("c", PassTesting.random([4], seed: 5))
            builder.initializer("d", Tensor(scalar: Float(0.25)))
            builder.node("MatMul", ["x", "w"], ["m1"], name: "fc1")
            builder.node("Add", ["m1", "b"], ["y1"])
            builder.node("Flatten", ["t"], ["f"], name: "flatten")
            builder.node("MatMul", ["f", "w"], ["m2"], name: "fc2")
            builder.node("Add", ["b_row", "m2"], ["y2"])
            builder.node(
                "Gemm", ["x", "w_t", "c"], ["g"], name: "fc3", attributes: ["transB": .int(1), "beta": .float(0.5)])
            builder.node("Add", ["g", "d"], ["y3"])
            builder.node("MatMul", ["x", "w"], ["y4"], name: "fc4")
            builder.output("y1", .float32, ["batch", 4])
            builder.output("y2", .float32, [2, 4])
            builder.output("y3", .float32, ["batch", 4])
            builder.output("y4", .float32, ["batch", 4])
        }
    }

    @Test func makesEachLayerOneGemm() throws {
        let after = try PassTesting.run([.fuseFullyConnected], on: Self.before())
        #expect(
            after.printed() == """
                graph test(%x: float32[batch, 8], %t: float32[2, 2, 2, 2]) -> (%y1, %y2, %y3, %y4) {
                  %w: float32[8, 4] = initializer
                  %w_t: float32[4, 8] = initializer
                  %fc3_bias: float32[4] = initializer
                  %fc2_bias: float32[4] = initializer
                  %fc1_bias: float32[4] = initializer
                  %y1: float32[batch, 4] = gemm(%x, %w, %fc1_bias)   # fc1
                  %f: float32[2, 8] = flatten(%t)   # flatten
                  %y2: float32[2, 4] = gemm(%f, %w, %fc2_bias)   # fc2
                  %y3: float32[batch, 4] = gemm(%x, %w_t, %fc3_bias) {transB=1}   # fc3
                  %y4: float32[batch, 4] = gemm(%x, %w)   # fc4
                }
                """)
    }

    @Test func countsHitsPerRule() throws {
        let result = try Rewriter(FuseFullyConnected.rules).rewrite(Self.before())
        #expect(
            result.hits == [
                "add(matmul(x, W), b) -> gemm(x, W, b)": 2,
                "add(gemm(x, W, c), b) -> gemm(x, W, beta·c + b)": 1,
                "matmul(x, W) -> gemm(x, W)": 1,
            ])
    }

    @Test func outputsAreUnchanged() throws {
        let before = try Self.before()
        let after = try PassTesting.run([.fuseFullyConnected], on: before)
        try PassTesting.expectSameOutputs(
            before, after,
            inputs: ["x": PassTesting.random([3, 8], seed: 8), "t": PassTesting.random([2, 2, 2, 2], seed: 9)])
    }

    /// Kept as they are: a batched (3-D) MatMul, a MatMul by a non-constant weight, a
    /// Gemm with a non-constant `C`. A per-row addend, and an addend on a product with
    /// another reader, stay `Add`s (the MatMul alone still becomes a Gemm).
    @Test func leavesNonLayersAlone() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .float32, [2, 8])
            builder.input("x3", .float32, [2, 3, 8])
            builder.input("live_w", .float32, [8, 4])
            builder.input("live_c", .float32, [4])
            builder.initializer("w", PassTesting.random([8, 4], seed: 1))
            builder.initializer("per_row", PassTesting.random([2, 4], seed: 2))
            builder.initializer("b", PassTesting.random([4], seed: 3))
            builder.node("MatMul", ["x3", "w"], ["batched"])
            builder.node("MatMul", ["x", "live_w"], ["dynamic"])
            builder.node("Gemm", ["x", "w", "live_c"], ["g"])
            builder.node("Add", ["g", "b"], ["gemm_live_c"])
            builder.node("MatMul", ["x", "w"], ["m1"])
            builder.node("Add", ["m1", "per_row"], ["rowwise"])
            builder.node("MatMul", ["x", "w"], ["shared"])
            builder.node("Add", ["shared", "b"], ["shared_plus"])
            builder.output("batched", .float32, [2, 3, 4])
            for name in ["dynamic", "gemm_live_c", "rowwise", "shared", "shared_plus"] {
                builder.output(name, .float32, [2, 4])
            }
        }
        let after = try PassTesting.run([.fuseFullyConnected], on: before)
        #expect(PassTesting.ops(after) == [.matMul, .matMul, .gemm, .add, .gemm, .add, .gemm, .add])
        try PassTesting.expectSameOutputs(
            before, after,
            inputs: [
                "x": PassTesting.random([2, 8], seed: 5), "x3": PassTesting.random([2, 3, 8], seed: 6),
                "live_w": PassTesting.random([8, 4], seed: 7), "live_c": PassTesting.random([4], seed: 8),
            ])
    }
}
