import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnRuntime
import KilnTargets
import Testing

/// End-to-end tests of `kiln run` on `.kiln` artifacts, `--executor` and `--profile`.
@Suite struct RunArtifactCLITests {
    /// The shipped example packed as a CPU-only artifact in `directory`.
    static func exampleArtifact(in directory: URL) throws -> URL {
        let graph = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: CLITests.example)).graph
        let tree = try ModuleTree(modules: [CPUModule(name: "cpu0", graph: graph)])
        let header = ArtifactHeader(
            producer: "kiln-cli-tests", target: "DPUCZDX8G_ISA1_B4096", fingerprint: Fingerprint(rawValue: 0x101_0000_1601_0407),
            modelSHA256: String(repeating: "0", count: 64), quantization: .uncalibrated)
        let url = directory.appendingPathComponent("example.kiln")
        try ArtifactWriter.write(tree, header: header, to: url)
        return url
    }

    @Test(arguments: ["auto", "graph", "vm"])
    func runsAnArtifactAndMatchesOnnxruntime(executor: String) throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let artifact = try Self.exampleArtifact(in: directory)
        let result = try CLITests.kiln([
            "run", artifact.path, "--executor", executor, "--inputs", CLITests.exampleInputs, "--compare", CLITests.exampleExpected,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("logits: max abs error"))
        #expect(result.stdout.contains(" ok"))
    }

    @Test func onnxModelsRunUnderAnExecutorToo() throws {
        let result = try CLITests.kiln([
            "run", CLITests.example, "--executor", "graph", "--inputs", CLITests.exampleInputs, "--compare", CLITests.exampleExpected,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(" ok"))
    }

    @Test func profileWritesOneSlicePerStep() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let artifact = try Self.exampleArtifact(in: directory)
        let trace = directory.appendingPathComponent("trace.json")
        let result = try CLITests.kiln([
            "run", artifact.path, "--inputs", CLITests.exampleInputs, "--profile", trace.path,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        // One slice per step of the optimized graph: fused nodes keep their conv's name.
        let nodes = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: CLITests.example)).graph.nodes
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: trace)) as? [String: Any])
        let events = try #require(document["traceEvents"] as? [[String: Any]])
        let names = events.compactMap { $0["name"] as? String }
        #expect(names.count == events.count && Set(names).count == events.count)
        #expect(Set(names).isSubset(of: Set(nodes.map(\.name))))
        #expect(events.count >= nodes.filter { $0.op == .conv }.count && events.count < nodes.count)
        #expect(events.allSatisfy { $0["ph"] as? String == "X" && $0["dur"] != nil && $0["cat"] is String })
    }

    @Test func showPrintsTheMemoryPlan() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let artifact = try Self.exampleArtifact(in: directory)
        let text = try CLITests.kiln(["show", artifact.path])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("memory plan   arena "), "\(text.stdout)")
        let json = try CLITests.kiln(["show", artifact.path, "--json"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let plan = try #require(document["memory_plan"] as? [String: Any])
        let arena = try #require(plan["arena_bytes"] as? Int)
        let sum = try #require(plan["intermediate_bytes"] as? Int)
        #expect(arena > 0 && arena < sum)
    }

    @Test func anArtifactRunWithoutInputsIsOneCodedError() throws {
        let result = try CLITests.kiln(["run", ShowArtifactCLITests.golden.path, "--executor", "vm"])
        CLITests.expectFailure(result, code: .missingInput)
    }
}
