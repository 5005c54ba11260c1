import Foundation
import KilnCore
import Testing

@Suite struct ErrorCodeTests {
    @Test func codesAreUniqueAndInTheirRanges() {
        let numbers = ErrorCode.all.map(\.rawValue)
        #expect(Set(numbers).count == numbers.count)
        #expect(numbers == numbers.sorted())
        #expect(numbers.allSatisfy { (1000..<9000).contains($0) })
    }

    @Test func errorsPrintOneLineWithTheirCode() {
        let error = KilnError(.unsupportedOp, "[Foo] node 'n'\n(opset 13): not supported")
        #expect(error.description == "error[KILN-2002]: [Foo] node 'n' (opset 13): not supported")
    }

    /// `docs/error-codes.md` is generated from ``ErrorCode/all``; re-record with
    /// `KILN_RECORD_GOLDENS=1 swift test --filter ErrorCodeTests` (the recording run fails).
    @Test func documentationListsEveryCode() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let url = root.appendingPathComponent("docs/error-codes.md")
        var text = """
            # Kiln error codes

            Generated from `ErrorCode.all` (Sources/KilnCore/Errors/ErrorCode.swift); a test keeps them
            in step. Codes are stable: never renumbered, never reused. Ranges: 1xxx input and files,
            2xxx ONNX import, 3xxx IR, 4xxx passes and partitioning, 5xxx quantization, 6xxx DPU,
            7xxx runtime and artifact, 8xxx command-line usage.

            | code | name | meaning |
            | --- | --- | --- |

            """
        for code in ErrorCode.all {
            text += "| KILN-\(code.rawValue) | `\(code.name)` | \(code.summary) |\n"
        }
        if ProcessInfo.processInfo.environment["KILN_RECORD_GOLDENS"] != nil {
            try text.write(to: url, atomically: true, encoding: .utf8)
            Issue.record("recorded \(url.path); run again without KILN_RECORD_GOLDENS")
            return
        }
        let recorded = try String(contentsOf: url, encoding: .utf8)
        #expect(recorded == text, "docs/error-codes.md is stale: re-record with KILN_RECORD_GOLDENS=1")
    }
}
