import Foundation
import KilnCore
import KilnTestSupport
import Testing

/// `kiln bench`: the JSON document's keys and the argument checks (no timing assertions).
@Suite struct BenchCLITests {
    @Test func jsonHasTheDesignKeys() throws {
        for arguments in [["--inputs", CLITests.exampleInputs], []] {
            let result = try CLITests.kiln(["bench", CLITests.example, "--seconds", "0", "--warmup", "1", "--json"] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let document = try #require(object)
            #expect(Set(document.keys) == ["model", "executor", "threads", "latency_ms", "throughput_fps"])
            let latency = try #require(document["latency_ms"] as? [String: Double])
            #expect(Set(latency.keys) == ["p50", "p90", "p99", "mean"])
            #expect(latency.values.allSatisfy { $0 > 0 })
            #expect(document["threads"] as? Int == 1)
            #expect(document["device"] == nil)
        }
    }

    @Test func graphExecutorIsNamedInTheDocument() throws {
        let result = try CLITests.kiln(
            ["bench", CLITests.example, "--inputs", CLITests.exampleInputs, "--seconds", "0", "--warmup", "0", "--executor", "graph", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["executor"] as? String == "graph")
    }

    /// A model with symbolic dimensions runs on the VM, whose repeated input shape gets a
    /// specialized graph plan: named in the text and counted in the document.
    @Test(.enabled(if: ReferenceModels.manifest.contains { $0.name == "dynamic_shapes" }, "KILN_MODEL_DATA has no dynamic_shapes"))
    func specializedPlansAreReported() throws {
        let model = ReferenceModels.directory.appendingPathComponent("dynamic_shapes.onnx").path
        let json = try CLITests.kiln(["bench", model, "--seconds", "0", "--warmup", "2", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(document["executor"] as? String == "vm")
        #expect(document["specialized_plans"] as? Int == 1)
        let text = try CLITests.kiln(["bench", model, "--seconds", "0", "--warmup", "2"])
        #expect(text.stdout.contains("vm executor, 1 input shape on a specialized graph plan"), "\(text.stdout)")
        let bytecode = try CLITests.kiln(["bench", model, "--seconds", "0", "--warmup", "2", "--executor", "vm", "--json"])
        let plain = try #require(try JSONSerialization.jsonObject(with: Data(bytecode.stdout.utf8)) as? [String: Any])
        #expect(plain["specialized_plans"] == nil)
    }

    @Test func humanOutputAndBadArguments() throws {
        let result = try CLITests.kiln(["bench", CLITests.example, "--seconds", "0", "--warmup", "0", "--threads", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("p50"))
        #expect(result.stdout.contains("2 threads"))
        CLITests.expectFailure(try CLITests.kiln(["bench", CLITests.example, "--threads", "0"]), code: .badArgument, status: 2)
        CLITests.expectFailure(try CLITests.kiln(["bench", CLITests.example, "--seconds=-1"]), code: .badArgument, status: 2)
    }

    /// An artifact with a DPU subgraph: the DESIGN.md `device` object, and one row per subgraph
    /// with the emulator's measured time beside the predicted device time.
    @Test func artifactReportsTheDeviceAndEachSubgraph() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let examples = CLITests.root.appendingPathComponent("Examples")
        let artifact = directory.appendingPathComponent("digits.kiln")
        let compile = try CLITests.kiln([
            "compile", examples.appendingPathComponent("digits_cnn.onnx").path, "--target", "DPUCZDX8G_ISA1_B4096",
            "--calib", examples.appendingPathComponent("digits/calib.npz").path, "--calib-size", "16", "-o", artifact.path,
        ])
        #expect(compile.status == 0, "\(compile.stderr)")
        let result = try CLITests.kiln(["bench", artifact.path, "--seconds", "0", "--warmup", "1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let device = try #require(document["device"] as? [String: Any])
        for key in ["target", "clock_mhz", "cores", "predicted_latency_ms", "predicted_fps"] {
            #expect(device[key] != nil, "device lacks \(key)")
        }
        #expect(device["target"] as? String == "DPUCZDX8G_ISA1_B4096")
        let rows = try #require(document["subgraphs"] as? [[String: Any]])
        #expect(rows.count == 1)
        #expect((rows.first?["emulated_ms"] as? Double ?? 0) > 0)
        #expect((rows.first?["predicted_ms"] as? Double ?? 0) > 0)
        let text = try CLITests.kiln(["bench", artifact.path, "--seconds", "0", "--warmup", "0", "--board", "ZCU102"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("EMULATED ms") && text.stdout.contains("on ZCU102"))
        CLITests.expectFailure(
            try CLITests.kiln(["bench", artifact.path, "--board", "VCK190"]), code: .badArgument, status: 2)
    }
}
