import Foundation
import KilnCore
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

    @Test func humanOutputAndBadArguments() throws {
        let result = try CLITests.kiln(["bench", CLITests.example, "--seconds", "0", "--warmup", "0", "--threads", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("p50"))
        #expect(result.stdout.contains("2 threads"))
        CLITests.expectFailure(try CLITests.kiln(["bench", CLITests.example, "--threads", "0"]), code: .badArgument, status: 2)
        CLITests.expectFailure(try CLITests.kiln(["bench", CLITests.example, "--seconds=-1"]), code: .badArgument, status: 2)
    }
}
