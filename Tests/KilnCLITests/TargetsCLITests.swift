import Foundation
import KilnCore
import KilnTargets
import Testing

/// End-to-end tests of `kiln targets` and `kiln query`.
@Suite struct TargetsCLITests {
    @Test func targetsListsEveryEntry() throws {
        let result = try CLITests.kiln(["targets"])
        #expect(result.status == 0, "\(result.stderr)")
        for architecture in Catalog.architectures {
            #expect(result.stdout.contains(architecture.name))
        }
        #expect(result.stdout.contains("1228.8 GOPS @ 300 MHz"))
    }

    @Test func targetsJSONDecodesToTheCatalog() throws {
        let result = try CLITests.kiln(["targets", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let decoded = try JSONDecoder().decode([DPUArchitecture].self, from: Data(result.stdout.utf8))
        #expect(decoded == Catalog.architectures)
    }

    @Test(arguments: ["DPUCZDX8G_ISA1_B4096", "dpuczdx8g-zcu102", "0x101000056010407"])
    func queryJSONDecodesToTheEntry(_ target: String) throws {
        let result = try CLITests.kiln(["query", "--target", target, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let decoded = try JSONDecoder().decode(DPUArchitecture.self, from: Data(result.stdout.utf8))
        #expect(decoded.name == "DPUCZDX8G_ISA1_B4096")
    }

    @Test func queryReadsAnArchJSON() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let arch = directory.appendingPathComponent("arch.json")
        try Data(#"{"fingerprint":"0x101000016010406"}"#.utf8).write(to: arch)
        let result = try CLITests.kiln(["query", "--arch", arch.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("DPUCZDX8G_ISA1_B3136_0101000016010406"))
        #expect(result.stdout.contains("KV260"))
    }

    @Test func unknownTargetIsOneCodedLineWithSuggestions() throws {
        let result = try CLITests.kiln(["query", "--target", "DPUCZDX8G_ISA1_B4095"])
        CLITests.expectFailure(result, code: .unknownTarget)
        #expect(result.stdout.isEmpty)
    }

    @Test(arguments: [
        ("{", ErrorCode.badArch),
        (#"{"fingerprint":"0x1"}"#, ErrorCode.unknownFingerprint),
        (#"{"target":"DPUCZDX8G_ISA1_B4095"}"#, ErrorCode.unknownTarget),
    ])
    func badArchFilesFailWithTheirCode(_ text: String, _ code: ErrorCode) throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let arch = directory.appendingPathComponent("arch.json")
        try Data(text.utf8).write(to: arch)
        CLITests.expectFailure(try CLITests.kiln(["query", "--arch", arch.path]), code: code)
    }

    @Test(arguments: [["query"], ["query", "--target", "DPUCZDX8G_ISA1_B4096", "--arch", "arch.json"]])
    func queryNeedsExactlyOneSource(_ arguments: [String]) throws {
        CLITests.expectFailure(try CLITests.kiln(arguments), code: .badArgument, status: 2)
    }
}
