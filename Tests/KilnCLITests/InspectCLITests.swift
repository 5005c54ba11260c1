import Foundation
import KilnCore
import KilnTestSupport
import Testing

/// End-to-end tests of `kiln inspect`.
@Suite struct InspectCLITests {
    static let target = "DPUCZDX8G_ISA1_B4096"

    /// Runs `kiln` with `PATH` replaced.
    static func kiln(_ arguments: [String], path: String) throws -> CLITests.Result {
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = path
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLITests.Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func printsATablePerNodeAndASummary() throws {
        let result = try CLITests.kiln(["inspect", CLITests.example, "--target", Self.target])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("NAME"))
        #expect(result.stdout.contains("ReLU6 fused into Conv"))
        #expect(result.stdout.contains("target DPUCZDX8G_ISA1_B4096: 24 nodes, 24 on the DPU and 0 on the CPU, 1 DPU subgraph"))
        #expect(result.stdout.contains("% on the DPU"))
    }

    /// `--json` prints one document with exactly DESIGN.md's keys.
    @Test func jsonFollowsTheContract() throws {
        let result = try CLITests.kiln(["inspect", CLITests.example, "--target", "dpuczdx8g-zcu102", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(Set(document.keys) == ["target", "nodes", "subgraphs", "summary"])
        #expect(document["target"] as? String == Self.target)
        let nodes = try #require(document["nodes"] as? [[String: Any]])
        #expect(nodes.count == 24)  // canonical: batch norms folded, MatMul + Add as one Gemm
        for node in nodes {
            #expect(Set(node.keys) == ["name", "op", "device", "subgraph", "reason"])
            let device = try #require(node["device"] as? String)
            #expect(device == "DPU" || device == "CPU")
            #expect(device == "DPU" ? node["subgraph"] is Int : node["subgraph"] is NSNull)
            #expect(!((node["reason"] as? String) ?? "").isEmpty)
        }
        let subgraphs = try #require(document["subgraphs"] as? [[String: Any]])
        #expect(subgraphs.count == 1)
        for subgraph in subgraphs {
            #expect(Set(subgraph.keys) == ["id", "nodes", "inputs", "outputs", "gop"])
            #expect(subgraph["inputs"] as? [String] == ["input"])
            #expect(subgraph["outputs"] as? [String] == ["logits"])
            #expect(((subgraph["gop"] as? Double) ?? 0) > 0)
        }
        let summary = try #require(document["summary"] as? [String: Any])
        #expect(summary["subgraphs"] as? Int == 1)
        #expect(summary["dpu_nodes"] as? Int == 24)
        #expect(summary["transitions"] as? Int == 2)
    }

    @Test func unknownTargetIsOneCodedLine() throws {
        let result = try CLITests.kiln(["inspect", CLITests.example, "--target", "DPUCZDX8G_ISA1_B4095"])
        CLITests.expectFailure(result, code: .unknownTarget)
        #expect(result.stdout.isEmpty)
    }

    @Test func dotWritesTheGraphWithSubgraphClusters() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let dot = directory.appendingPathComponent("model.dot")
        let result = try CLITests.kiln(["inspect", CLITests.example, "--target", Self.target, "--dot", dot.path])
        #expect(result.status == 0, "\(result.stderr)")
        let text = try String(contentsOf: dot, encoding: .utf8)
        #expect(text.hasPrefix("digraph \"mobilenetv2_tiny\" {"))
        #expect(text.contains("subgraph cluster_dpu_0 {"))
        #expect(text.contains("fillcolor=\"#a5d6a7\""))
        #expect(text.hasSuffix("}\n"))
        // Nothing but the DOT file is left in the folder (written through a renamed temporary).
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.dot"])
    }

    @Test func svgWithoutGraphvizSaysHowToInstallIt() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let svg = directory.appendingPathComponent("model.svg")
        let result = try Self.kiln(["inspect", CLITests.example, "--target", Self.target, "--svg", svg.path], path: directory.path)
        CLITests.expectFailure(result, code: .graphvizMissing, noFileAt: svg)
        #expect(result.stderr.contains("apt-get install graphviz"))
        #expect(result.stdout.isEmpty)
    }

    @Test func svgRunsDotFromThePath() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A stand-in for Graphviz: checks its arguments and prints a fixed SVG.
        let fake = directory.appendingPathComponent("dot")
        try Data("#!/bin/sh\n[ \"$1\" = -Tsvg ] && grep -q cluster_dpu_0 \"$2\" && echo '<svg>kiln</svg>'\n".utf8).write(to: fake)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        let svg = directory.appendingPathComponent("model.svg")
        let result = try Self.kiln(
            ["inspect", CLITests.example, "--target", Self.target, "--svg", svg.path],
            path: "\(directory.path):/usr/bin:/bin")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOf: svg, encoding: .utf8) == "<svg>kiln</svg>\n")
    }

    /// A YOLOv8-style block, Conv → x·Sigmoid(x) (SiLU) → Conv: canonicalization makes the
    /// product one SiLU node; the convolutions stay on the DPU, the SiLU goes to the CPU
    /// and the report says why.
    @Test func siluStaysOnTheCPUBetweenDPUConvolutions() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("images", .float32, [1, 3, 16, 16])
        let weights = { (shape: [Int]) in
            Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { Float($0 % 7) / 10 - 0.3 })
        }
        builder.initializer("w1", weights([8, 3, 3, 3]))
        builder.initializer("w2", weights([4, 8, 1, 1]))
        builder.node("Conv", ["images", "w1"], ["c1"], name: "conv1", attributes: ["pads": .ints([1, 1, 1, 1])])
        builder.node("Sigmoid", ["c1"], ["gate"], name: "sigmoid")
        builder.node("Mul", ["c1", "gate"], ["silu"], name: "silu")
        builder.node("Conv", ["silu", "w2"], ["out"], name: "conv2")
        builder.output("out", .float32, [1, 4, 16, 16])
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("yolo_block.onnx")
        try builder.serialized().write(to: model)
        let result = try CLITests.kiln(["inspect", model.path, "--target", Self.target, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let nodes = try #require(document["nodes"] as? [[String: Any]])
        let devices = Dictionary(uniqueKeysWithValues: nodes.map { ($0["name"] as? String ?? "", $0["device"] as? String ?? "") })
        #expect(devices == ["conv1": "DPU", "silu": "CPU", "conv2": "DPU"])
        let silu = try #require(nodes.first { $0["name"] as? String == "silu" })
        #expect(silu["op"] as? String == "SiLU")
        #expect((silu["reason"] as? String)?.hasPrefix("SiLU is not a DPU activation on DPUCZDX8G") == true)
        #expect((document["subgraphs"] as? [Any])?.count == 2)
    }
}
