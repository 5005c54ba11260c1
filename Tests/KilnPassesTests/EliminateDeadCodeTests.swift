import KilnCore
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct EliminateDeadCodeTests {
    @Test func removesUnusedNodes() throws {
        var graph = Graph(name: "g")
        let x = graph.addValue(Value(name: "x"))
        let dead = graph.addValue(Value(name: "dead"))
        let y = graph.addValue(Value(name: "y"))
        graph.inputs = [x]
        graph.addNode(Node(name: "unused", op: .exp, inputs: [x], outputs: [dead]))
        graph.addNode(Node(name: "kept", op: .relu, inputs: [x], outputs: [y]))
        graph.outputs = [y]
        let (after, records) = try PassManager([.eliminateDeadCode]).run(graph)
        #expect(after.nodes.map(\.name) == ["kept"])
        #expect(records.map(\.name) == ["EliminateDeadCode"])
        #expect(records.first?.nodesBefore == 2 && records.first?.nodesAfter == 1)
    }

    /// `y = exp(dropout(relu(identity(x))))` with an unread mask.
    static func chain() throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, [2, 3])
            builder.node("Identity", ["x"], ["a"])
            builder.node("Relu", ["a"], ["b"])
            builder.node("Dropout", ["b"], ["c", "mask"], attributes: ["seed": .int(3)])
            builder.node("Exp", ["c"], ["y"])
            builder.output("y", .float32, [2, 3])
        }
    }

    @Test func removesIdentityAndInferenceDropout() throws {
        let after = try PassTesting.run([.eliminateDeadCode], on: Self.chain())
        #expect(
            after.printed() == """
                graph test(%x: float32[2, 3]) -> (%y) {
                  %b: float32[2, 3] = relu(%x)   # relu_1
                  %y: float32[2, 3] = exp(%b)   # exp_3
                }
                """)
    }

    /// An `Identity` producing a graph output: its operand takes the output's name.
    @Test func keepsGraphOutputNames() throws {
        let before = try PassTesting.graph { builder in
            builder.input("x", .float32, [2, 3])
            builder.node("Relu", ["x"], ["r"])
            builder.node("Identity", ["r"], ["y"])
            builder.node("Neg", ["r"], ["z"])
            builder.output("y", .float32, [2, 3])
            builder.output("z", .float32, [2, 3])
        }
        let after = try PassTesting.run([.eliminateDeadCode], on: before)
        #expect(
            after.printed() == """
                graph test(%x: float32[2, 3]) -> (%y, %z) {
                  %y: float32[2, 3] = relu(%x)   # relu_0
                  %z: float32[2, 3] = neg(%y)   # neg_2
                }
                """)
        try PassTesting.expectSameOutputs(before, after, inputs: ["x": PassTesting.random([2, 3])])
    }

    @Test func outputsAreUnchanged() throws {
        let before = try Self.chain()
        let after = try PassTesting.run([.eliminateDeadCode], on: before)
        try PassTesting.expectSameOutputs(before, after, inputs: ["x": PassTesting.random([2, 3])])
    }

    /// Kept: an `Identity` from a graph input to a graph output (no value can take the
    /// output's name), a `Dropout` whose mask is read, a `Dropout` in training mode, an
    /// `Identity` whose result a subgraph reads by name.
    @Test func leavesNecessaryCopiesAlone() throws {
        var before = try PassTesting.graph { builder in
            builder.input("x", .float32, [2, 3])
            builder.initializer("training", Tensor(scalar: true))
            builder.node("Identity", ["x"], ["y"])
            builder.node("Dropout", ["x"], ["d", "mask"])
            builder.node("Dropout", ["x", "", "training"], ["t"])
            builder.node("Identity", ["x"], ["captured"])
            builder.output("y", .float32, [2, 3])
            builder.output("d", .float32, [2, 3])
            builder.output("mask", .bool, [2, 3])
            builder.output("t", .float32, [2, 3])
        }
        // cond ? captured : captured, with `captured` read by name inside the branches.
        func branch(_ name: String) -> Graph {
            var body = Graph(name: name)
            let captured = body.addValue(Value(name: "captured"))
            body.captures = [captured]
            let out = body.addValue(Value(name: name + "_out"))
            body.addNode(Node(name: name + "_neg", op: .neg, inputs: [captured], outputs: [out]))
            body.outputs = [out]
            return body
        }
        let condition = before.addInitializer(Tensor(scalar: true), name: "condition")
        let chosen = before.addValue(Value(name: "chosen"))
        before.addNode(
            Node(
                name: "if0", op: .if, inputs: [condition], outputs: [chosen],
                attributes: Attributes(["then_branch": .graph(branch("then")), "else_branch": .graph(branch("else"))])))
        before.outputs.append(chosen)
        let after = try PassTesting.run([.eliminateDeadCode], on: before)
        #expect(PassTesting.ops(after) == [.identity, .dropout, .dropout, .identity, .if])
        #expect(after.outputs.map { after[$0].name } == before.outputs.map { before[$0].name })
    }
}
