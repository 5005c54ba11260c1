import KilnCore
import KilnIR
import KilnInterpreter
import KilnPasses
import Testing

/// Partitioning random DAGs with random DPU/CPU labels: never a cycle, every node exactly
/// once, on the device its label says, and the same results.
@Suite struct PartitionPropertyTests {
    /// SplitMix64: a small seeded generator, so every run sees the same graphs.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A random DAG of `relu` (one input) and `add` (two inputs) nodes over two inputs,
    /// its annotation (random labels; some DPU relus fused into a DPU producer), and
    /// some outputs.
    static func randomCase(_ rng: inout SeededGenerator) -> (Graph, Annotation) {
        var graph = Graph(name: "random")
        let type = TensorType(dtype: .float32, shape: [2, 3])
        var available: [ValueID] = []
        for name in ["a", "b"] {
            let id = graph.addValue(Value(name: name, type: type))
            graph.inputs.append(id)
            available.append(id)
        }
        let count = Int.random(in: 2...24, using: &rng)
        var placements: [Placement] = []
        var anchors: [Int?] = []
        var producer: [ValueID: Int] = [:]
        for index in 0..<count {
            let output = graph.addValue(Value(name: "v\(index)", type: type))
            let isDPU = Bool.random(using: &rng)
            // Prefer recent values so that chains and diamonds both appear.
            func pick() -> ValueID {
                let recent = max(0, available.count - 6)
                return available[Int.random(in: (Bool.random(using: &rng) ? recent : 0)..<available.count, using: &rng)]
            }
            let unary = Int.random(in: 0..<3, using: &rng) == 0
            let inputs = unary ? [pick()] : [pick(), pick()]
            graph.addNode(Node(name: "n\(index)", op: unary ? .relu : .add, inputs: inputs, outputs: [output]))
            var anchor: Int?
            if unary, isDPU, let source = producer[inputs[0]], placements[source].isDPU, Bool.random(using: &rng) {
                anchor = anchors[source] ?? source
            }
            placements.append(isDPU ? .dpu(reason: "label") : .cpu(reason: "label"))
            anchors.append(anchor)
            producer[output] = index
            available.append(output)
        }
        let last = graph.nodes.count - 1
        var outputs: Set<Int> = [last]
        for _ in 0..<Int.random(in: 0...2, using: &rng) { outputs.insert(Int.random(in: 0...last, using: &rng)) }
        graph.outputs = outputs.sorted().map { graph.nodes[$0].outputs[0] }.compactMap { $0 }
        return (graph, Annotation(target: "random", placements: placements, anchors: anchors))
    }

    @Test func randomDAGsPartitionWithoutCycles() throws {
        var rng = SeededGenerator(state: 20_261_122)
        let inputs = [
            "a": Tensor(shape: [2, 3], scalars: [0.5, -1, 2, -0.25, 1.5, -3] as [Float]),
            "b": Tensor(shape: [2, 3], scalars: [-0.75, 1, 0.125, 2, -2, 0.5] as [Float]),
        ]
        var subgraphCount = 0
        for trial in 0..<300 {
            let (graph, annotation) = Self.randomCase(&rng)
            for options in [PartitionOptions(minimumRegion: .anyNode), PartitionOptions()] {
                let result = try partition(graph, annotation: annotation, options: options)
                try check(graph, annotation, result, trial: trial)
                subgraphCount += result.subgraphs.count
                let expected = try Interpreter(graph: graph).run(inputs)
                let actual = try Interpreter(graph: result.graph).run(inputs)
                #expect(actual == expected, "trial \(trial): results differ")
            }
        }
        #expect(subgraphCount > 300, "the random graphs should produce DPU subgraphs")
    }

    /// The structural properties of one partition.
    private func check(_ graph: Graph, _ annotation: Annotation, _ result: PartitionResult, trial: Int) throws {
        // Every node exactly once, CPU nodes outside, DPU nodes inside a subgraph.
        var seen: [String] = []
        for node in result.graph.nodes {
            if node.op == .dpuSubgraph {
                let body = try #require(try node.attributes.graph("body"))
                for inner in body.nodes {
                    seen.append(inner.name)
                    let index = try #require(graph.nodes.firstIndex { $0.name == inner.name })
                    #expect(result.placements[index].isDPU && annotation.placements[index].isDPU, "trial \(trial)")
                }
            } else {
                seen.append(node.name)
                let index = try #require(graph.nodes.firstIndex { $0.name == node.name })
                #expect(!result.placements[index].isDPU, "trial \(trial): DPU node \(node.name) left outside")
            }
        }
        #expect(seen.sorted() == graph.nodes.map(\.name).sorted(), "trial \(trial): nodes lost or duplicated")
        // Fused nodes stay with their anchor.
        for (index, anchor) in annotation.anchors.enumerated() {
            if let anchor, result.placements[index].isDPU {
                #expect(result.subgraphOf[index] == result.subgraphOf[anchor], "trial \(trial): fused node split from anchor")
            }
        }
        // The quotient graph (one vertex per subgraph or CPU node) is acyclic.
        #expect(!quotientHasCycle(graph, result), "trial \(trial): cycle between subgraphs")
        // And the rewritten graph is in topological order.
        _ = try result.graph.topologicallySorted()
        try Verifier.verify(result.graph)
    }

    /// Whether contracting each subgraph of `result` to one vertex leaves a cycle.
    private func quotientHasCycle(_ graph: Graph, _ result: PartitionResult) -> Bool {
        let count = graph.nodes.count
        func vertex(_ node: Int) -> Int { result.subgraphOf[node].map { count + $0 } ?? node }
        var producer: [ValueID: Int] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for case let output? in node.outputs { producer[output] = index }
        }
        var edges = [Int: Set<Int>]()
        for (index, node) in graph.nodes.enumerated() {
            for case let input? in node.inputs {
                guard let source = producer[input], vertex(source) != vertex(index) else { continue }
                edges[vertex(source), default: []].insert(vertex(index))
            }
        }
        var state = [Int: Int]()  // 1 on the stack, 2 done
        func visit(_ vertex: Int) -> Bool {
            if state[vertex] == 1 { return true }
            if state[vertex] == 2 { return false }
            state[vertex] = 1
            for next in edges[vertex] ?? [] where visit(next) { return true }
            state[vertex] = 2
            return false
        }
        return (0..<(count + result.subgraphs.count)).contains { visit($0) }
    }
}
