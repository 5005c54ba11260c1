import Foundation
import KilnTestSupport
import Testing

/// The ONNX backend node tests, generated into `build-data/onnx/node` by
/// `Scripts/gen_node_tests.py` (the README's test command does it), or the folder named by
/// `KILN_ONNX_NODE_DATA`. `KILN_NODE_FILTER=conv` runs only matching cases (no pass-rate check).
@Suite struct NodeConformanceTests {
    static var dataDirectory: URL {
        if let path = ProcessInfo.processInfo.environment["KILN_ONNX_NODE_DATA"] {
            return URL(fileURLWithPath: path)
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent("build-data/onnx/node")
    }

    @Test func onnxNodeTestsPass() throws {
        let directory = Self.dataDirectory
        try #require(
            FileManager.default.fileExists(atPath: directory.path),
            "ONNX node test data missing at \(directory.path): run Scripts/test.sh (or Scripts/gen_node_tests.py build-data/onnx)")
        let filter = ProcessInfo.processInfo.environment["KILN_NODE_FILTER"]
        let results = NodeConformance.run(directory: directory, filter: filter)
        var passed = 0
        var failures: [String] = []
        var skipReasons: [String: Int] = [:]
        for result in results {
            switch result.outcome {
            case .passed: passed += 1
            case .failed(let why): failures.append("  FAIL \(result.name): \(why)")
            case .skipped(let why):
                let key = why.hasPrefix("unsupported op") ? "unsupported op (not in Kiln's op list)" : why
                skipReasons[key, default: 0] += 1
            }
        }
        let skipped = skipReasons.values.reduce(0, +)
        var report = failures
        report.append("ONNX node tests: \(passed) passed, \(failures.count) failed, \(skipped) skipped")
        for (reason, count) in skipReasons.sorted(by: { $0.value > $1.value }) {
            report.append("  skipped \(count): \(reason)")
        }
        let text = report.joined(separator: "\n")
        print(text)
        try? text.write(
            to: directory.deletingLastPathComponent().appendingPathComponent("node-report.txt"),
            atomically: true, encoding: .utf8)
        let inScope = passed + failures.count
        #expect(inScope > 0, "no node test of a supported op ran")
        if filter == nil {
            let rate = Double(passed) / Double(max(inScope, 1))
            #expect(rate >= 0.95, "pass rate \(passed)/\(inScope) is below 95 %")
        }
    }
}
