import Foundation
import KilnCore
import Testing

/// End-to-end tests of `kiln show` on `.kiln` artifacts (the golden of KilnRuntimeTests).
@Suite struct ShowArtifactCLITests {
    static let golden = CLITests.root.appendingPathComponent("Tests/KilnRuntimeTests/Goldens/tiny-1.0.kiln")

    @Test func printsTheModuleTreeAndSections() throws {
        let result = try CLITests.kiln(["show", Self.golden.path])
        #expect(result.status == 0, "\(result.stderr)")
        for expected in [
            "format 1.0", "DPUCZDX8G_ISA1_B4096 (fingerprint 0x101000016010407)", "quantization  calibrated",
            "metadata  4 constants, 243 bytes", "├── cpu0 (cpu)", "└── dpu0 (dpu)", "functions: dpu_subgraph_0, dpu_subgraph_3",
            "constants", "module.1",
        ] {
            #expect(result.stdout.contains(expected), "missing '\(expected)' in:\n\(result.stdout)")
        }
    }

    @Test func printsOneJSONDocument() throws {
        let result = try CLITests.kiln(["show", Self.golden.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["fingerprint"] as? String == "0x101000016010407")
        #expect(document["format_version"] as? String == "1.0")
        #expect((document["quantization"] as? [String: Any])?["state"] as? String == "calibrated")
        let tree = try #require(document["tree"] as? [String: Any])
        #expect(tree["constants"] as? Int == 4)
        let children = try #require(tree["children"] as? [[String: Any]])
        #expect(children.map { $0["name"] as? String } == ["cpu0", "dpu0"])
        let sections = try #require(document["sections"] as? [[String: Any]])
        #expect(sections.map { $0["name"] as? String } == ["header", "modules", "constants", "module.0", "module.1"])
        #expect(sections.allSatisfy { ($0["sha256"] as? String)?.count == 64 })
    }

    @Test func aDamagedArtifactIsOneCodedError() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var bytes = try Data(contentsOf: Self.golden)
        bytes[2000] ^= 0x40
        let damaged = directory.appendingPathComponent("damaged.kiln")
        try bytes.write(to: damaged)
        CLITests.expectFailure(try CLITests.kiln(["show", damaged.path]), code: .artifactCorrupt)
        let truncated = directory.appendingPathComponent("truncated.kiln")
        try bytes.prefix(1000).write(to: truncated)
        CLITests.expectFailure(try CLITests.kiln(["show", truncated.path, "--json"]), code: .artifactTruncated)
        let notArtifact = directory.appendingPathComponent("empty.kiln")
        try Data("hello".utf8).write(to: notArtifact)
        CLITests.expectFailure(try CLITests.kiln(["show", notArtifact.path]), code: .notArtifact)
    }
}
