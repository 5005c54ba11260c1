import KilnCore
import KilnIR
import Testing

@Suite struct VerifierTests {
    /// x → relu → y, well formed.
    static func valid() -> Graph {
        var graph = Graph(name: "g")
        let x = graph.addValue(Value(name: "x", type: TensorType(dtype: .float32, shape: [2])))
        let y = graph.addValue(Value(name: "y"))
        graph.inputs = [x]
        graph.addNode(Node(name: "relu0", op: .relu, inputs: [x], outputs: [y]))
        graph.outputs = [y]
        return graph
    }

    @Test func acceptsAWellFormedGraph() throws {
        try Verifier.verify(Self.valid())
    }

    static let broken: [(String, @Sendable (inout Graph) -> Void)] = [
        ("use before definition", { graph in
            let z = graph.addValue(Value(name: "z"))
            graph.nodes.insert(Node(name: "early", op: .relu, inputs: [z], outputs: [graph.addValue(Value(name: "w"))]), at: 0)
        }),
        ("defined twice", { graph in
            graph.addNode(Node(name: "again", op: .relu, inputs: [ValueID(0)], outputs: [ValueID(1)]))
        }),
        ("id out of range", { graph in
            graph.addNode(Node(name: "far", op: .relu, inputs: [ValueID(99)], outputs: []))
        }),
        ("duplicate names", { graph in
            graph.addValue(Value(name: "x"))
        }),
        ("undefined output", { graph in
            graph.outputs.append(graph.addValue(Value(name: "dangling")))
        }),
    ]

    @Test(arguments: 0..<broken.count)
    func rejectsBrokenGraphs(_ index: Int) {
        var graph = Self.valid()
        Self.broken[index].1(&graph)
        #expect(throws: KilnError.self, "\(Self.broken[index].0)") { try Verifier.verify(graph) }
        do {
            try Verifier.verify(graph)
        } catch let error as KilnError {
            #expect(error.code == .verificationFailed)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func producersAndConsumers() {
        let graph = Self.valid()
        #expect(graph.producers() == [nil, NodeID(0)])
        #expect(graph.consumers() == [[NodeID(0)], []])
    }
}
