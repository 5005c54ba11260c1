import KilnCore
import KilnIR
import KilnInterpreter
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct PartitionTests {
    static let target = PartitionTestGraph.b4096

    /// conv → relu → sigmoid (CPU) → conv → relu: two DPU subgraphs around the sigmoid.
    static func twoRegions() throws -> Graph {
        var g = PartitionTestGraph()
        let x = g.input("x", [1, 4, 8, 8])
        let c1 = g.conv(x, inputs: 4, out: 4, kernel: [1, 1], name: "c1")
        let r1 = g.node(.relu, [c1], name: "r1")
        let s = g.node(.sigmoid, [r1], name: "s")
        let c2 = g.conv(s, inputs: 4, out: 2, kernel: [1, 1], name: "c2")
        let r2 = g.node(.relu, [c2], name: "r2")
        return try g.finish([r2])
    }

    static func runBoth(_ before: Graph, _ after: Graph, inputs: [String: Tensor]) throws {
        let expected = try Interpreter(graph: before).run(inputs)
        let actual = try Interpreter(graph: after).run(inputs)
        #expect(Set(actual.keys) == Set(expected.keys))
        for (name, tensor) in expected {
            let result = try #require(actual[name])
            #expect(TensorComparison.mismatch(result, tensor, rtol: 0, atol: 0) == nil, "\(name)")
        }
    }

    static func input(_ shape: [Int]) -> Tensor {
        let count = Tensor.elementCount(shape)
        return Tensor(shape: shape, scalars: (0..<count).map { Float(($0 * 37) % 23) / 11 - 1 })
    }

    @Test func regionsBecomeDPUSubgraphNodes() throws {
        let before = try Self.twoRegions()
        let result = try partition(before, annotation: annotate(before, for: Self.target))
        let expected = """
            graph test(%x: float32[1, 4, 8, 8]) -> (%r2:out) {
              %r1:out: float32[1, 4, 8, 8] = dpuSubgraph(%x) {id=0, target="DPUCZDX8G_ISA1_B4096"}   # dpu_subgraph_0
                body:
                graph dpu_subgraph_0(%x: float32[1, 4, 8, 8]) -> (%r1:out) {
                  %w_1: float32[4, 4, 1, 1] = initializer
                  %w_2: float32[4] = initializer
                  %c1:out: float32[1, 4, 8, 8] = conv(%x, %w_1, %w_2) {group=1}   # c1
                  %r1:out: float32[1, 4, 8, 8] = relu(%c1:out)   # r1
                }
              %s:out: float32[1, 4, 8, 8] = sigmoid(%r1:out)   # s
              %r2:out: float32[1, 2, 8, 8] = dpuSubgraph(%s:out) {id=1, target="DPUCZDX8G_ISA1_B4096"}   # dpu_subgraph_1
                body:
                graph dpu_subgraph_1(%s:out: float32[1, 4, 8, 8]) -> (%r2:out) {
                  %w_3: float32[2, 4, 1, 1] = initializer
                  %w_4: float32[2] = initializer
                  %c2:out: float32[1, 2, 8, 8] = conv(%s:out, %w_3, %w_4) {group=1}   # c2
                  %r2:out: float32[1, 2, 8, 8] = relu(%c2:out)   # r2
                }
            }
            """
        #expect(result.graph.printed() == expected)
        // The weights live in the bodies only; inlining gives them back under their names.
        #expect(result.graph.initializers.isEmpty)
        let inlined = try result.graph.inliningDPUSubgraphs().graph
        #expect(Set(inlined.initializers.keys.map { inlined[$0].name }) == ["w_1", "w_2", "w_3", "w_4"])
        #expect(result.subgraphOf == [0, 0, nil, 1, 1])
        #expect(result.subgraphs.map(\.nodes) == [[0, 1], [3, 4]])
        #expect(result.graph.values.map(\.name) == before.values.map(\.name))
        try Self.runBoth(before, result.graph, inputs: ["x": Self.input([1, 4, 8, 8])])
    }

    /// a = conv(x); b = sigmoid(a) (CPU); c = conv(a); d = c + b. Merging `d` into the
    /// region {a, c} would route the region through the sigmoid and back: a cycle.
    @Test func mergingNeverRoutesARegionThroughTheCPU() throws {
        var g = PartitionTestGraph()
        let x = g.input("x", [1, 4, 8, 8])
        let a = g.conv(x, inputs: 4, out: 4, kernel: [1, 1], name: "a")
        let b = g.node(.sigmoid, [a], name: "b")
        let c = g.conv(a, inputs: 4, out: 4, kernel: [1, 1], name: "c")
        let d = g.node(.add, [c, b], name: "d")
        let before = try g.finish([d])
        let annotation = annotate(before, for: Self.target)
        #expect(annotation.placements.map(\.isDPU) == [true, false, true, true])

        let kept = try partition(before, annotation: annotation, options: PartitionOptions(minimumRegion: .anyNode))
        #expect(kept.subgraphs.map(\.nodes) == [[0, 2], [3]])
        #expect(kept.subgraphs.map { $0.outputs.map { before[$0].name } } == [["a:out", "c:out"], ["d:out"]])
        try Self.runBoth(before, kept.graph, inputs: ["x": Self.input([1, 4, 8, 8])])

        let dropped = try partition(before, annotation: annotation)
        #expect(dropped.subgraphs.map(\.nodes) == [[0, 2]])
        #expect(dropped.placements[3] == .cpu(reason: "region too small for a DPU call (no Conv/FC)"))
        try Self.runBoth(before, dropped.graph, inputs: ["x": Self.input([1, 4, 8, 8])])
    }

    /// Regions count as one vertex: q → c1 (CPU) → r and p → c2 (CPU) → s, with p and r in
    /// one region. Node by node no path leads from q to s through the CPU, but through
    /// the contracted region {p, r} one does (q → c1 → {p, r} → c2 → s), so q and s
    /// must stay apart. (Found by the random-DAG test.)
    @Test func mergingSeesRegionsAsOneVertex() throws {
        var graph = Graph(name: "contracted")
        let type = TensorType(dtype: .float32, shape: [2])
        let x = graph.addValue(Value(name: "x", type: type))
        graph.inputs = [x]
        var names: [String: ValueID] = ["x": x]
        for (name, op, inputs) in [
            ("q", OpKind.add, ["x", "x"]), ("p", .relu, ["x"]), ("c1", .sigmoid, ["q"]),
            ("r", .add, ["p", "c1"]), ("c2", .sigmoid, ["p"]), ("s", .add, ["q", "c2"]),
        ] {
            let output = graph.addValue(Value(name: name, type: type))
            names[name] = output
            graph.addNode(Node(name: name, op: op, inputs: inputs.map { names[$0] }, outputs: [output]))
        }
        graph.outputs = [names["r"], names["s"]].compactMap { $0 }
        let labels = [true, true, false, true, false, true]
        let annotation = Annotation(
            target: "test", placements: labels.map { $0 ? .dpu(reason: "test") : .cpu(reason: "test") },
            anchors: Array(repeating: nil, count: labels.count))
        let result = try partition(graph, annotation: annotation, options: PartitionOptions(minimumRegion: .anyNode))
        #expect(result.subgraphs.map(\.nodes) == [[0], [1, 3], [5]])
        let inputs = ["x": Tensor(shape: [2], scalars: [0.5, -2] as [Float])]
        try Self.runBoth(graph, result.graph, inputs: inputs)
    }

    @Test func partitionPassRunsInAPipeline() throws {
        let before = try Self.twoRegions()
        let (after, records) = try PassManager([.partition(for: Self.target)]).run(before)
        #expect(records.map(\.name) == ["Partition"])
        #expect(after.nodes.map(\.op) == [.dpuSubgraph, .sigmoid, .dpuSubgraph])
        let inferred = try ShapeInference.infer(after)
        #expect(inferred.outputs.map { inferred[$0].type } == [TensorType(dtype: .float32, shape: [1, 2, 8, 8])])
    }

    /// A region's constant is copied into its body; a graph input with a default stays an input.
    @Test func constantsMoveInAndDefaultedInputsFlowIn() throws {
        var g = PartitionTestGraph()
        let x = g.input("x", [1, 4, 4, 4])
        let w = g.constant([4, 4, 1, 1])
        let defaulted = g.input("bias", [4])
        g.graph.initializers[defaulted] = Tensor(shape: [4], scalars: [Float](repeating: 0.25, count: 4))
        let y = g.node(.conv, [x, w, defaulted], name: "conv")
        let before = try g.finish([y])
        let annotation = annotate(before, for: Self.target)
        #expect(annotation.placements[0] == .cpu(reason: "Conv bias is not constant (the DPU needs it when it compiles)"))
        // A constant bias keeps it on the DPU, with the weights inside the body.
        g.graph.inputs.removeAll { $0 == defaulted }
        let constantBias = try g.finish([y])
        let result = try partition(constantBias, annotation: annotate(constantBias, for: Self.target))
        let body = try #require(try result.graph.nodes[0].attributes.graph("body"))
        #expect(body.inputs.map { body[$0].name } == ["x"])
        #expect(Set(body.initializers.keys.map { body[$0].name }) == [before[w].name, "bias"])
    }
}
