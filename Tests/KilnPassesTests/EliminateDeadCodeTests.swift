import KilnCore
import KilnIR
import KilnPasses
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
}
