import KilnCore
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct SimplifyReshapesTests {
    /// A reshape → reshape → flatten chain, a reshape that changes nothing, a reshape with a
    /// `0`/`-1` target, and a lone flatten.
    static func before() throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, [2, 3, 4])
            builder.input("y", .float32, [4, 3])
            builder.input("z", .float32, [2, 3, 2, 2])
            builder.initializer("to_6x4", Tensor(shape: [2], scalars: [6, 4] as [Int64]))
            builder.initializer("to_copy_2_rest", Tensor(shape: [3], scalars: [0, 2, -1] as [Int64]))
            builder.initializer("to_4x3", Tensor(shape: [2], scalars: [4, 3] as [Int64]))
            builder.initializer("to_copy_rest", Tensor(shape: [2], scalars: [0, -1] as [Int64]))
            builder.node("Reshape", ["x", "to_6x4"], ["r1"])
            builder.node("Reshape", ["r1", "to_copy_2_rest"], ["r2"])
            builder.node("Flatten", ["r2"], ["chain"], name: "flatten", attributes: ["axis": .int(1)])
            builder.node("Reshape", ["y", "to_4x3"], ["same"])
            builder.node("Relu", ["same"], ["kept"])
            builder.node("Reshape", ["z", "to_copy_rest"], ["literal"], name: "reshape_copy")
            builder.node("Flatten", ["z"], ["flat"], name: "lone_flatten")
            builder.output("chain", .float32, [6, 4])
            builder.output("kept", .float32, [4, 3])
            builder.output("literal", .float32, [2, 12])
            builder.output("flat", .float32, [2, 12])
        }
    }

    /// The chain collapses to its first reshape (the rest is a no-op once `r2 → chain`
    /// becomes `reshape(r1, [6, 4])`); that reshape's result takes the graph output's name.
    @Test func leavesOneLiteralReshape() throws {
        let after = try PassTesting.run([.simplifyReshapes], on: Self.before())
        #expect(
            after.printed() == """
                graph test(%x: float32[2, 3, 4], %y: float32[4, 3], %z: float32[2, 3, 2, 2]) -> (%chain, %kept, %literal, %flat) {
                  %to_6x4: int64[2] = initializer
                  %reshape_copy_shape: int64[2] = initializer
                  %chain: float32[6, 4] = reshape(%x, %to_6x4)   # reshape_0
                  %kept: float32[4, 3] = relu(%y)   # relu_4
                  %literal: float32[2, 12] = reshape(%z, %reshape_copy_shape)   # reshape_copy
                  %flat: float32[2, 12] = flatten(%z)   # lone_flatten
                }
                """)
        let target = try #require(after.valueID(named: "reshape_copy_shape"))
        #expect(after.initializers[target]?.integerScalars() == [2, 12])
    }

    @Test func outputsAreUnchanged() throws {
        let before = try Self.before()
        let after = try PassTesting.run([.simplifyReshapes], on: before)
        try PassTesting.expectSameOutputs(
            before, after,
            inputs: [
                "x": PassTesting.random([2, 3, 4]), "y": PassTesting.random([4, 3], seed: 2),
                "z": PassTesting.random([2, 3, 2, 2], seed: 3),
            ])
    }

    /// Kept: a chain whose middle value has another reader, a result with a symbolic
    /// dimension, a no-op reshape from a graph input to a graph output (no value can take
    /// the output's name).
    @Test func leavesSharedAndDynamicReshapesAlone() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .float32, [2, 6])
            builder.input("b", .float32, ["batch", 6])
            builder.initializer("to_3x4", Tensor(shape: [2], scalars: [3, 4] as [Int64]))
            builder.initializer("to_12", Tensor(shape: [1], scalars: [12] as [Int64]))
            builder.initializer("to_copy_2_3", Tensor(shape: [3], scalars: [0, 2, 3] as [Int64]))
            builder.initializer("to_2x6", Tensor(shape: [2], scalars: [2, 6] as [Int64]))
            builder.node("Reshape", ["x", "to_3x4"], ["middle"])
            builder.node("Reshape", ["middle", "to_12"], ["flat"])
            builder.node("Reshape", ["b", "to_copy_2_3"], ["dynamic"])
            builder.node("Reshape", ["x", "to_2x6"], ["same"])
            builder.output("middle", .float32, [3, 4])
            builder.output("flat", .float32, [12])
            builder.output("dynamic", .float32, ["batch", 2, 3])
            builder.output("same", .float32, [2, 6])
        }
        let after = try PassTesting.run([.simplifyReshapes], on: before)
        #expect(after == before)
    }
}
