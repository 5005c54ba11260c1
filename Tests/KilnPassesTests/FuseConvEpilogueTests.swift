import KilnCore
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct FuseConvEpilogueTests {
    /// A residual block: `relu(conv2(relu(conv1(x))) + x)`, and a `Clip` after a bias-free conv.
    static func residual() throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, [1, 4, 6, 6])
            builder.initializer("w1", PassTesting.random([4, 4, 3, 3], seed: 1))
            builder.initializer("b1", PassTesting.random([4], seed: 2))
            builder.initializer("w2", PassTesting.random([4, 4, 3, 3], seed: 3))
            builder.initializer("w3", PassTesting.random([2, 4, 1, 1], seed: 4))
            builder.initializer("lo", Tensor(scalar: Float(-0.5)))
            builder.initializer("hi", Tensor(scalar: Float(0.5)))
            let pads: [String: ONNXModelBuilder.AttributeSpec] = ["pads": .ints([1, 1, 1, 1])]
            builder.node("Conv", ["x", "w1", "b1"], ["c1"], name: "conv1", attributes: pads)
            builder.node("Relu", ["c1"], ["r1"], name: "relu1")
            builder.node("Conv", ["r1", "w2"], ["c2"], name: "conv2", attributes: pads)
            builder.node("Add", ["c2", "x"], ["s"], name: "add")
            builder.node("Relu", ["s"], ["y"], name: "relu2")
            builder.node("Conv", ["y", "w3"], ["c3"], name: "conv3")
            builder.node("Clip", ["c3", "lo", "hi"], ["z"], name: "clip")
            builder.output("z", .float32, [1, 2, 6, 6])
        }
    }

    @Test func fusesSummandThenClamp() throws {
        let after = try PassTesting.run([.fuseConvEpilogue], on: Self.residual())
        #expect(PassTesting.ops(after) == [.fusedConv, .fusedConv, .fusedConv])
        let nodes = after.nodes
        #expect(nodes[0].attributes["activation_min"] == .float(0) && nodes[0].attributes["activation_max"] == nil)
        #expect(nodes[0].inputs.count == 3)
        // conv2: the input x as summand, then the ReLU.
        #expect(nodes[1].inputs.count == 4 && nodes[1].inputs[2] == nil)
        #expect(nodes[1].inputs[3].map { after[$0].name } == "x")
        #expect(nodes[1].attributes["activation_min"] == .float(0))
        #expect(nodes[2].attributes["activation_min"] == .float(-0.5) && nodes[2].attributes["activation_max"] == .float(0.5))
        try PassTesting.expectSameOutputs(
            Self.residual(), after, inputs: ["x": PassTesting.random([1, 4, 6, 6], seed: 9)])
    }

    /// Kept: the conv result has another reader; an add that broadcasts; a ReLU before the
    /// add (the clamp must be last); an integer conv input is not float32.
    @Test func leavesIllegalFusionsAlone() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .float32, [1, 2, 4, 4])
            builder.input("row", .float32, [1, 2, 1, 4])
            builder.initializer("w", PassTesting.random([2, 2, 1, 1], seed: 1))
            builder.node("Conv", ["x", "w"], ["shared"])
            builder.node("Relu", ["shared"], ["a"])
            builder.node("Conv", ["x", "w"], ["c2"])
            builder.node("Add", ["c2", "row"], ["b"])
            builder.node("Conv", ["x", "w"], ["c3"])
            builder.node("Relu", ["c3"], ["r3"])
            builder.node("Add", ["r3", "x"], ["c"])
            builder.output("shared", .float32, [1, 2, 4, 4])
            builder.output("a", .float32, [1, 2, 4, 4])
            builder.output("b", .float32, [1, 2, 4, 4])
            builder.output("c", .float32, [1, 2, 4, 4])
        }
        let after = try PassTesting.run([.fuseConvEpilogue], on: before)
        // Only conv3 + its ReLU fuse; the add after the ReLU stays.
        #expect(PassTesting.ops(after).filter { $0 == .fusedConv }.count == 1)
        #expect(PassTesting.ops(after).filter { $0 == .add }.count == 2)
        #expect(PassTesting.ops(after).filter { $0 == .relu }.count == 1)
    }

    /// SiLU (recognized from `x · Sigmoid(x)`) and HardSwish after a conv, after a clamp,
    /// and after a summand become the activation; nothing fuses after an activation.
    @Test func fusesGatesLast() throws {
        let before = try PassTesting.graph(opset: 14) { builder in
            builder.input("x", .float32, [1, 3, 5, 5])
            builder.initializer("w", PassTesting.random([3, 3, 3, 3], seed: 1))
            builder.initializer("b", PassTesting.random([3], seed: 2))
            let pads: [String: ONNXModelBuilder.AttributeSpec] = ["pads": .ints([1, 1, 1, 1])]
            builder.node("Conv", ["x", "w", "b"], ["c1"], name: "conv1", attributes: pads)
            builder.node("Sigmoid", ["c1"], ["g1"], name: "gate1")
            builder.node("Mul", ["c1", "g1"], ["s1"], name: "silu1")
            builder.node("Conv", ["s1", "w"], ["c2"], name: "conv2", attributes: pads)
            builder.node("Add", ["c2", "x"], ["a2"], name: "add2")
            builder.node("Relu", ["a2"], ["r2"], name: "relu2")
            builder.node("HardSwish", ["r2"], ["h2"], name: "hswish2")
            builder.node("Conv", ["h2", "w"], ["c3"], name: "conv3", attributes: pads)
            builder.node("HardSwish", ["c3"], ["h3"], name: "hswish3")
            builder.node("Relu", ["h3"], ["y"], name: "relu3")
            builder.output("y", .float32, [1, 3, 5, 5])
        }
        let after = try PassTesting.run(Pass.cpuOptimization, on: before)
        #expect(PassTesting.ops(after) == [.fusedConv, .fusedConv, .fusedConv, .relu])
        let nodes = after.nodes
        #expect(nodes[0].attributes["activation"] == .string("silu"))
        #expect(nodes[1].attributes["activation"] == .string("hard_swish") && nodes[1].attributes["activation_min"] == .float(0))
        #expect(nodes[1].inputs.count == 4)
        #expect(nodes[2].attributes["activation"] == .string("hard_swish"))
        try PassTesting.expectSameOutputs(before, after, inputs: ["x": PassTesting.random([1, 3, 5, 5], seed: 9)])
    }

    /// The whole CPU pipeline on a conv + batch norm + ReLU: one fused node.
    @Test func cpuPipelineFoldsAndFuses() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .float32, [1, 2, 5, 5])
            builder.initializer("w", PassTesting.random([3, 2, 3, 3], seed: 1))
            builder.node("Conv", ["x", "w"], ["c"], name: "conv", attributes: ["pads": .ints([1, 1, 1, 1])])
            builder.node("BatchNormalization", ["c"] + FoldBatchNormTests.statistics(&builder, 3), ["n"], name: "bn")
            builder.node("Relu", ["n"], ["y"], name: "relu")
            builder.output("y", .float32, [1, 3, 5, 5])
        }
        let after = try PassTesting.run(Pass.cpuOptimization, on: before)
        #expect(PassTesting.ops(after) == [.fusedConv])
        try PassTesting.expectSameOutputs(before, after, inputs: ["x": PassTesting.random([1, 2, 5, 5], seed: 9)])
    }
}
