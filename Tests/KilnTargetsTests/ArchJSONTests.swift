import Foundation
import KilnCore
import Testing

@testable import KilnTargets

/// Reading and writing arch.json: both forms, round trips, and coded errors.
@Suite struct ArchJSONTests {
    static let namesWithFingerprints = Catalog.architectures.filter { $0.fingerprint != nil }.map(\.name)
    static let allNames = Catalog.architectures.map(\.name)

    static func temporaryFile() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("kiln-arch-\(UUID()).json")
    }

    @Test(arguments: namesWithFingerprints)
    func fingerprintRoundTripsThroughAFile(_ name: String) throws {
        let architecture = try Catalog.architecture(named: name)
        let url = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: url) }
        try ArchJSON(architecture: architecture).write(to: url)
        let read = try ArchJSON.read(from: url)
        #expect(read.fingerprint == architecture.fingerprint)
        #expect(read.target == nil)
        #expect(try read.resolve().name == name)
    }

    @Test(arguments: allNames)
    func everyEntryRoundTripsThroughItsDocument(_ name: String) throws {
        let architecture = try Catalog.architecture(named: name)
        let document = ArchJSON(architecture: architecture)
        #expect(try ArchJSON.decode(document.encoded()) == document)
        #expect(try document.resolve().name == name)
    }

    @Test func readsTheBlogsArchJSON() throws {
        let text = """
            {
                "fingerprint":"0x101000016010406"
            }
            """
        let architecture = try ArchJSON.decode(Data(text.utf8)).resolve()
        #expect(architecture.name == "DPUCZDX8G_ISA1_B3136_0101000016010406")
        #expect(architecture.aliases.contains("DPUCZDX8G-kv260"))
    }

    @Test func writesTheFingerprintForm() throws {
        let architecture = try Catalog.architecture(named: "DPUCZDX8G-kv260")
        let text = String(decoding: ArchJSON(architecture: architecture).encoded(), as: UTF8.self)
        #expect(text == "{\n  \"fingerprint\" : \"0x101000016010406\"\n}\n")
    }

    @Test(arguments: [
        (#"{"target": "DPUCZDX8G_ISA1_B4096"}"#, "DPUCZDX8G_ISA1_B4096"),
        (#"{"target": "DPUCZDX8G-zcu104"}"#, "DPUCZDX8G_ISA1_B4096"),
        (#"{"target": "DPUCVDX8G_ISA3_C32B6", "comment": "extra keys are ignored"}"#, "DPUCVDX8G_ISA3_C32B6"),
        (#"{"fingerprint": "0x0101000056010407", "target": "DPUCZDX8G_ISA1_B4096"}"#, "DPUCZDX8G_ISA1_B4096"),
    ])
    func readsTheTargetForm(_ text: String, _ expected: String) throws {
        #expect(try ArchJSON.decode(Data(text.utf8)).resolve().name == expected)
    }

    /// (document, code): malformed documents are `badArch`; well-formed ones naming
    /// nothing in the catalog are `unknownFingerprint` / `unknownTarget`.
    static let errorCases: [(String, ErrorCode)] = [
        ("", .badArch),
        ("{", .badArch),
        ("not json", .badArch),
        ("[]", .badArch),
        (#"["0x101000016010406"]"#, .badArch),
        ("{}", .badArch),
        (#"{"fingerprint": 72339069014573062}"#, .badArch),
        (#"{"fingerprint": null}"#, .badArch),
        (#"{"fingerprint": "DPUCZDX8G"}"#, .badArch),
        (#"{"fingerprint": "0x"}"#, .badArch),
        (#"{"target": 7}"#, .badArch),
        (#"{"target": " "}"#, .badArch),
        (#"{"fingerprint": "0x101000056010407", "target": "DPUCZDX8G_ISA1_B512"}"#, .badArch),
        (#"{"fingerprint": "0x1"}"#, .unknownFingerprint),
        (#"{"fingerprint": "0x101000016010402"}"#, .unknownFingerprint),
        (#"{"target": "DPUCZDX8G_ISA1_B4095"}"#, .unknownTarget),
    ]

    @Test(arguments: errorCases)
    func malformedOrUnknownDocumentsFailWithTheirCode(_ text: String, _ code: ErrorCode) {
        let error = #expect(throws: KilnError.self) { try ArchJSON.decode(Data(text.utf8)).resolve() }
        #expect(error?.code == code)
    }

    @Test func aMissingFileIsFileNotFound() {
        let error = #expect(throws: KilnError.self) { try ArchJSON.read(from: Self.temporaryFile()) }
        #expect(error?.code == .fileNotFound)
    }
}
