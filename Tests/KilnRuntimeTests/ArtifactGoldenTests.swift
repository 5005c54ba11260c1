import Foundation
import KilnCore
import KilnRuntime
import KilnTestSupport
import Testing

/// Files written by earlier versions of the format must keep loading.
///
/// `Goldens/tiny-<major>.<minor>.kiln` is written once, by the writer of that version, and
/// never re-recorded afterwards: `KILN_RECORD_GOLDENS=1 swift test --filter ArtifactGoldenTests`
/// writes the file of the *current* version only (the recording run fails on purpose).
@Suite struct ArtifactGoldenTests {
    static let directory = ArtifactFixtures.root.appendingPathComponent("Tests/KilnRuntimeTests/Goldens")

    /// The tree the goldens hold.
    static func tree() throws -> ModuleTree { try ArtifactFixtures.tree(channels: 2) }
    static var header: ArtifactHeader { ArtifactFixtures.header(.calibrated(ArtifactFixtures.plan)) }

    @Test func currentVersionGoldenIsReproducedByteForByte() throws {
        let version = ArtifactFormat.version
        let url = Self.directory.appendingPathComponent("tiny-\(version).kiln")
        let bytes = try ArtifactWriter.encode(Self.tree(), header: Self.header)
        if ProcessInfo.processInfo.environment["KILN_RECORD_GOLDENS"] != nil {
            try bytes.write(to: url)
            Issue.record("recorded \(url.path); run again without KILN_RECORD_GOLDENS")
            return
        }
        #expect(try Data(contentsOf: url) == bytes, "the writer's bytes changed within format \(version): bump the version")
    }

    @Test func everyGoldenLoads() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".kiln") }
        #expect(!names.isEmpty)
        for name in names {
            let artifact = try ArtifactReader.read(
                contentsOf: Self.directory.appendingPathComponent(name), expectedFingerprint: ArtifactFixtures.fingerprint)
            #expect(artifact.header == Self.header, "\(name)")
            expectSameTree(artifact.tree, try Self.tree())
        }
    }
}
