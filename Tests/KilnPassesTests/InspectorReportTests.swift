import Foundation
import KilnCore
import KilnIR
import Testing

@testable import KilnPasses

@Suite struct InspectorReportTests {
    /// (what, build, MACs of the node named "node")
    static let costCases: [(String, @Sendable (inout PartitionTestGraph) -> ValueID, Int)] = [
        ("conv 3x3 pad 1", { g in
            g.conv(g.input("x", [1, 4, 8, 8]), inputs: 4, out: 2, kernel: [3, 3], name: "node", ["pads": .ints([1, 1, 1, 1])])
        }, 2 * 8 * 8 * 4 * 9),
        ("depthwise conv stride 2", { g in
            g.conv(g.input("x", [1, 4, 8, 8]), inputs: 4, out: 4, kernel: [3, 3], group: 4, name: "node", ["strides": .ints([2, 2])])
        }, 4 * 3 * 3 * 9),
        ("conv transpose", { g in
            g.node(.convTranspose, [g.input("x", [1, 2, 4, 4]), g.constant([2, 3, 2, 2])], name: "node", ["strides": .ints([2, 2])])
        }, 2 * 16 * 3 * 4),
        ("gemm", { g in g.node(.gemm, [g.input("x", [5, 7]), g.constant([7, 3])], name: "node") }, 5 * 3 * 7),
        ("gemm transA", { g in
            g.node(.gemm, [g.input("x", [7, 5]), g.constant([7, 3])], name: "node", ["transA": .int(1)])
        }, 5 * 3 * 7),
        ("batched matmul", { g in g.node(.matMul, [g.input("x", [2, 5, 7]), g.input("y", [2, 7, 3])], name: "node") }, 2 * 5 * 3 * 7),
        ("max pool 2x2", { g in
            g.node(.maxPool, [g.input("x", [1, 3, 8, 8])], name: "node", ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
        }, 3 * 16 * 4),
        ("global average pool", { g in g.node(.globalAveragePool, [g.input("x", [1, 3, 8, 8])], name: "node") }, 3 * 64),
        ("bidirectional LSTM", { g in
            g.nodes(.lstm, [g.input("x", [10, 2, 8]), g.constant([2, 64, 8]), g.constant([2, 64, 16])], name: "node", outputs: 1, [
                "hidden_size": .int(16), "direction": .string("bidirectional"),
            ])[0]
        }, 10 * 2 * 2 * 4 * 16 * (8 + 16)),
        ("relu", { g in g.node(.relu, [g.input("x", [1, 3, 8, 8])], name: "node") }, 0),
    ]

    @Test(arguments: costCases.indices)
    func macsPerOp(_ index: Int) throws {
        let (what, build, expected) = Self.costCases[index]
        var builder = PartitionTestGraph()
        let output = build(&builder)
        let graph = try builder.finish([output])
        let node = try #require(graph.nodes.first { $0.name == "node" })
        #expect(OpCost.macs(node, in: graph) == expected, "\(what)")
    }

    /// conv (DPU) → sigmoid (CPU): ops, shares, transitions, and the JSON keys.
    @Test func reportSummarizesAndEncodesTheContract() throws {
        var g = PartitionTestGraph()
        let c = g.conv(g.input("x", [1, 4, 8, 8]), inputs: 4, out: 2, kernel: [1, 1], name: "conv")
        let s = g.node(.sigmoid, [c], name: "sigmoid")
        let graph = try g.finish([s])
        let inspection = try InspectPipeline.inspect(graph, target: PartitionTestGraph.b4096)
        let report = inspection.report
        let ops = 2 * (2 * 64 * 4)
        #expect(report.summary.ops == ops && report.summary.dpuOps == ops && report.summary.cpuOps == 0)
        #expect(report.summary.dpuOpsShare == 1)
        #expect(report.summary.transitions == 2)
        #expect(report.subgraphs.map(\.gop) == [Double(ops) / 1e9])
        #expect(report.nodes.map(\.subgraph) == [0, nil])

        let data = try JSONEncoder().encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let nodes = try #require(object["nodes"] as? [[String: Any]])
        #expect(nodes[1]["subgraph"] is NSNull, "a CPU node's subgraph is null, not missing")
        #expect(nodes.map { $0["device"] as? String } == ["DPU", "CPU"])
        #expect(try JSONDecoder().decode(InspectorReport.self, from: data) == report)

        let dot = report.dot(for: inspection.graph)
        #expect(dot.contains("subgraph cluster_dpu_0 {\n    label=\"DPU subgraph 0\""))
        #expect(dot.contains("n0 -> n1;"))
        #expect(dot.contains("tooltip=\"Sigmoid has no DPU engine (HardSigmoid runs on the DPU)\""))
    }
}
