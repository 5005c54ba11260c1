import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnRuntime
import KilnTestSupport
import Testing

/// Traces and the memory planner.
@Suite struct TraceAndPlanTests {
    /// The trace is valid trace-event JSON with one complete slice per step.
    @Test(arguments: [ExecutorKind.graph, .vm])
    func traceHasOneSlicePerStep(kind: ExecutorKind) throws {
        guard let entry = ExecutorFixtures.entry("resnet_tiny") else { return }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let inputs = try #require(try entry.inputSets().first?.inputs)
        let trace = TraceRecorder()
        _ = try kind.makeExecutor(for: graph, optimization: .none).run(inputs, trace: trace)
        let directory = try ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("trace.json")
        try trace.write(to: url)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let events = try #require(document["traceEvents"] as? [[String: Any]])
        #expect(events.count == graph.nodes.count)
        for event in events {
            #expect(event["ph"] as? String == "X")
            #expect(event["ts"] is Double || event["ts"] is Int)
            #expect((event["args"] as? [String: Any])?["shapes"] is String)
        }
        #expect(Set(events.compactMap { $0["name"] as? String }) == Set(graph.nodes.map(\.name)))
    }

    /// A chain a → b → c → d of equal tensors needs two buffers, not four.
    @Test func aChainReusesBuffers() throws {
        var graph = Graph(name: "chain")
        let type = TensorType(dtype: .float32, shape: [1, 64])
        let x = graph.addValue(Value(name: "x", type: type))
        var previous = x
        for index in 0..<4 {
            let next = graph.addValue(Value(name: "v\(index)", type: type))
            graph.addNode(Node(name: "exp\(index)", op: index % 2 == 0 ? .exp : .sigmoid, inputs: [previous], outputs: [next]))
            previous = next
        }
        let y = graph.addValue(Value(name: "y", type: type))
        graph.addNode(Node(name: "out", op: .mul, inputs: [previous, x], outputs: [y]))
        graph.inputs = [x]
        graph.outputs = [y]
        let executor = try GraphExecutor(graph: graph)
        let plan = executor.memoryPlan
        #expect(plan.intermediateBytes == 4 * 256)
        #expect(plan.arenaBytes == 256)
        #expect(plan.inPlaceCount == 3)
        let input = Tensor(shape: [1, 64], scalars: (0..<64).map { Float($0) / 32 - 1 })
        let outputs = try executor.run(["x": input])
        #expect(outputs == (try KilnInterpreter.Interpreter(graph: graph).run(["x": input])))
    }
}
