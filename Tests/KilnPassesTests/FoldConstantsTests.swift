import KilnCore
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct FoldConstantsTests {
    /// `y = x · −(a + b)`, `z = reshape(y, shape(x))`: the constant chain and the shape of
    /// the static `x` fold.
    static func before() throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, [2, 3])
            builder.initializer("a", Tensor(shape: [3], scalars: [1, 2, 3] as [Float]))
            builder.initializer("b", Tensor(shape: [3], scalars: [0.5, 0.5, 0.5] as [Float]))
            builder.node("Add", ["a", "b"], ["s"])
            builder.node("Neg", ["s"], ["t"])
            builder.node("Mul", ["x", "t"], ["y"])
            builder.node("Shape", ["x"], ["n"])
            builder.node("Reshape", ["y", "n"], ["z"])
            builder.output("z", .float32, [2, 3])
        }
    }

    @Test func foldsConstantChainsAndStaticShapes() throws {
        let after = try PassTesting.run([.foldConstants], on: Self.before())
        #expect(
            after.printed() == """
                graph test(%x: float32[2, 3]) -> (%z) {
                  %t: float32[3] = initializer
                  %n: int64[2] = initializer
                  %y: float32[2, 3] = mul(%x, %t)   # mul_2
                  %z: float32[2, 3] = reshape(%y, %n)   # reshape_4
                }
                """)
        let t = try #require(after.valueID(named: "t"))
        let n = try #require(after.valueID(named: "n"))
        #expect(after.initializers[t] == Tensor(shape: [3], scalars: [-1.5, -2.5, -3.5] as [Float]))
        #expect(after.initializers[n] == Tensor(shape: [2], scalars: [2, 3] as [Int64]))
    }

    @Test func outputsAreUnchanged() throws {
        let before = try Self.before()
        let after = try PassTesting.run([.foldConstants], on: before)
        try PassTesting.expectSameOutputs(before, after, inputs: ["x": PassTesting.random([2, 3])])
    }

    @Test func foldsShapeStartAndEndAndSize() throws {
        let before = try PassTesting.graph(opset: 15) { builder in
            builder.input("x", .float32, [2, 3, 4, 5])
            builder.node("Shape", ["x"], ["tail"], attributes: ["start": .int(-2)])
            builder.node("Shape", ["x"], ["middle"], attributes: ["start": .int(1), "end": .int(-1)])
            builder.node("Size", ["x"], ["count"])
            builder.output("tail", .int64, [2])
            builder.output("middle", .int64, [2])
            builder.output("count", .int64, [])
        }
        let after = try PassTesting.run([.foldConstants], on: before)
        #expect(after.nodes.isEmpty)
        func folded(_ name: String) throws -> [Int]? {
            after.initializers[try #require(after.valueID(named: name))]?.integerScalars()
        }
        #expect(try folded("tail") == [4, 5])
        #expect(try folded("middle") == [3, 4])
        #expect(try folded("count") == [120])
        try PassTesting.expectSameOutputs(before, after, inputs: ["x": PassTesting.random([2, 3, 4, 5])])
    }

    /// Not folded: results over the size limit, initializers that are graph inputs (only a
    /// default), shapes with a symbolic dimension.
    @Test func leavesNonConstantsAndLargeResultsAlone() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .float32, ["batch", 3])
            builder.input("w", .float32, [3])
            builder.initializer("w", Tensor(shape: [3], scalars: [1, 2, 3] as [Float]))
            builder.initializer("a", Tensor(shape: [3], scalars: [1, 2, 3] as [Float]))
            builder.node("Neg", ["w"], ["nw"])  // w may be overridden by the caller
            builder.node("Exp", ["a"], ["ea"])  // 3 elements > limit 2
            builder.node("Shape", ["x"], ["sx"])  // batch is symbolic
            builder.node("Add", ["nw", "ea"], ["y"])
            builder.output("y", .float32, [3])
            builder.output("sx", .int64, [2])
        }
        let after = try PassTesting.run([.foldConstants], on: before, context: PassContext(maxFoldedElements: 2))
        #expect(after == before)
    }

    @Test func leavesControlFlowAndFailingNodesAlone() throws {
        var graph = Graph(name: "g")
        let index = graph.addInitializer(Tensor(shape: [1], scalars: [7] as [Int64]), name: "index")
        let data = graph.addInitializer(Tensor(shape: [2], scalars: [1, 2] as [Float]), name: "data")
        let gathered = graph.addValue(Value(name: "gathered"))
        graph.addNode(Node(name: "bad_gather", op: .gather, inputs: [data, index], outputs: [gathered]))
        // An If on a constant condition: control flow is never folded.
        func branch(_ name: String, _ value: Float) -> Graph {
            var body = Graph(name: name)
            let out = body.addInitializer(Tensor(shape: [1], scalars: [value]), name: name + "_out")
            body.outputs = [out]
            return body
        }
        let condition = graph.addInitializer(Tensor(scalar: true), name: "condition")
        let chosen = graph.addValue(Value(name: "chosen"))
        graph.addNode(
            Node(
                name: "if0", op: .if, inputs: [condition], outputs: [chosen],
                attributes: Attributes([
                    "then_branch": .graph(branch("then", 1)), "else_branch": .graph(branch("else", 2)),
                ])))
        graph.outputs = [gathered, chosen]
        let after = try PassTesting.run([.foldConstants], on: graph)
        #expect(PassTesting.ops(after) == [.gather, .if])  // index 7 out of range: left for run time
    }

    /// A QDQ model's `DequantizeLinear` of constant int8 weights stays.
    @Test func keepsQuantizationBoundaries() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .float32, [4])
            builder.initializer("q", Tensor(shape: [4], scalars: [-2, 0, 3, 127] as [Int8]))
            builder.initializer("scale", Tensor(scalar: Float(0.5)))
            builder.initializer("zero_point", Tensor(scalar: Int8(0)))
            builder.node("DequantizeLinear", ["q", "scale", "zero_point"], ["w"])
            builder.node("Mul", ["x", "w"], ["y"])
            builder.output("y", .float32, [4])
        }
        let after = try PassTesting.run([.foldConstants], on: before)
        #expect(after == before)
    }
}
