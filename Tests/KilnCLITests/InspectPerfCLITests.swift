import Foundation
import KilnCore
import Testing

/// End-to-end tests of `kiln inspect --perf`.
@Suite struct InspectPerfCLITests {
    /// `--perf` appends the prediction; everything before it is the plain report.
    @Test func perfAppendsThePredictionToTheUnchangedReport() throws {
        let plain = try CLITests.kiln(["inspect", CLITests.example, "--target", "DPUCZDX8G-zcu102"])
        let perf = try CLITests.kiln(["inspect", CLITests.example, "--target", "DPUCZDX8G-zcu102", "--perf"])
        #expect(plain.status == 0 && perf.status == 0, "\(perf.stderr)")
        #expect(perf.stdout.hasPrefix(plain.stdout.trimmingCharacters(in: .newlines)))
        let added = perf.stdout.dropFirst(plain.stdout.count)
        #expect(added.contains("DPU performance model: DPUCZDX8G_ISA1_B4096 on ZCU102, 3 cores @ 281 MHz"))
        #expect(added.contains("SubGraph"))
        #expect(added.contains("AvgBw(MB/s)"))
        #expect(added.contains("dpu_subgraph_0"))
        #expect(added.contains("FPS single thread"))
    }

    /// `--perf --json` adds `device` with DESIGN.md's keys, and `performance`.
    @Test func jsonHasTheDeviceObject() throws {
        let result = try CLITests.kiln(["inspect", CLITests.example, "--target", "DPUCZDX8G_ISA1_B4096", "--board", "kv260", "--perf", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(Set(document.keys) == ["target", "nodes", "subgraphs", "summary", "device", "performance"])
        let device = try #require(document["device"] as? [String: Any])
        #expect(Set(device.keys) == [
            "target", "clock_mhz", "cores", "predicted_latency_ms", "predicted_fps", "predicted_fps_mt", "gop",
            "load_bytes", "store_bytes",
        ])
        #expect(device["target"] as? String == "DPUCZDX8G_ISA1_B4096")
        #expect(device["clock_mhz"] as? Int == 300)
        #expect(device["cores"] as? Int == 1)
        let latency = try #require(device["predicted_latency_ms"] as? Double)
        let fps = try #require(device["predicted_fps"] as? Double)
        #expect(latency > 0 && abs(fps * latency - 1000) < 1e-6)
        let performance = try #require(document["performance"] as? [String: Any])
        #expect(performance["board"] as? String == "KV260")
        let subgraphs = try #require(performance["subgraphs"] as? [[String: Any]])
        #expect(subgraphs.count == 1)
    }

    @Test func unknownBoardIsAUsageError() throws {
        let result = try CLITests.kiln(["inspect", CLITests.example, "--target", "DPUCZDX8G_ISA1_B4096", "--board", "ZCU999", "--perf"])
        CLITests.expectFailure(result, code: .badArgument, status: 2)
    }

    @Test func boardWithoutPerfIsAUsageError() throws {
        let result = try CLITests.kiln(["inspect", CLITests.example, "--target", "DPUCZDX8G_ISA1_B4096", "--board", "ZCU102"])
        CLITests.expectFailure(result, code: .badArgument, status: 2)
    }

    /// A target whose parallelism is not public cannot be modelled; the message says which figures.
    @Test func targetWithoutPublicParallelismIsAUsageError() throws {
        let result = try CLITests.kiln(["inspect", CLITests.example, "--target", "DPUCV2DX8G_ISA1_C20B1", "--perf"])
        CLITests.expectFailure(result, code: .badArgument, status: 2)
        #expect(result.stderr.contains("pixel_parallelism"))
    }
}
