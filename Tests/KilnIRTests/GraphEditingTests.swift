import KilnCore
import KilnIR
import Testing

@Suite struct GraphEditingTests {
    /// x → relu → a → neg → y, plus a dead sigmoid(x) → d.
    static func chain() -> Graph {
        var graph = Graph(name: "g")
        let x = graph.addValue(Value(name: "x"))
        let a = graph.addValue(Value(name: "a"))
        let d = graph.addValue(Value(name: "d"))
        let y = graph.addValue(Value(name: "y"))
        graph.inputs = [x]
        graph.addNode(Node(name: "relu", op: .relu, inputs: [x], outputs: [a]))
        graph.addNode(Node(name: "dead", op: .sigmoid, inputs: [x], outputs: [d]))
        graph.addNode(Node(name: "neg", op: .neg, inputs: [a], outputs: [y]))
        graph.outputs = [y]
        return graph
    }

    @Test func compactionDropsDeadNodesAndValues() throws {
        let compacted = Self.chain().compacted()
        #expect(compacted.nodes.map(\.name) == ["relu", "neg"])
        #expect(compacted.values.map(\.name) == ["x", "a", "y"])
        try Verifier.verify(compacted)
    }

    @Test func replacingUsesRewiresReaders() throws {
        var graph = Self.chain()
        graph.replaceUses(of: ValueID(1), with: ValueID(0))  // neg reads x directly
        let compacted = graph.compacted()
        #expect(compacted.nodes.map(\.name) == ["neg"])
    }

    @Test func sortingRestoresTopologicalOrder() throws {
        var graph = Self.chain()
        graph.nodes.reverse()
        #expect(throws: KilnError.self) { try Verifier.verify(graph) }
        let sorted = try graph.topologicallySorted()
        try Verifier.verify(sorted)
        #expect(sorted.nodes.map(\.name).firstIndex(of: "relu")! < sorted.nodes.map(\.name).firstIndex(of: "neg")!)
    }

    @Test func sortingDetectsCycles() {
        var graph = Self.chain()
        graph.nodes[0].inputs = [ValueID(3)]  // relu reads y, which depends on relu
        #expect(throws: KilnError.self) { try graph.topologicallySorted() }
    }

    @Test func uniqueNamesAvoidCollisions() {
        var graph = Self.chain()
        let id = graph.addInitializer(Tensor(scalar: Float(1)), name: "a")
        #expect(graph[id].name == "a_1")
    }
}
