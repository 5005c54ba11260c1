import Foundation
import KilnCore
import KilnIR
import KilnRuntime
import KilnTestSupport
import Synchronization
import Testing

/// The "Robustness" check: damaged files always give one coded error, never a crash,
/// and an interrupted export leaves the old file as it was.
@Suite struct ArtifactRobustnessTests {
    static let file: Data = {
        (try? ArtifactWriter.encode(ArtifactFixtures.tree(), header: ArtifactFixtures.header(.calibrated(ArtifactFixtures.plan))))
            ?? Data()
    }()

    /// Every byte of the file, flipped one bit and then all bits: each load fails with an
    /// artifact code (no byte is ignored, padding and reserved bytes included).
    @Test(arguments: [UInt8(0x01), 0x80, 0xFF])
    func everyFlippedByteIsACodedError(mask: UInt8) throws {
        let original = Self.file
        #expect(original.count > 1000)
        var codes: [ErrorCode: Int] = [:]
        for offset in 0..<original.count {
            var damaged = original
            damaged[offset] ^= mask
            let code = errorCode { _ = try ArtifactReader.decode(damaged) }
            if let code {
                codes[code, default: 0] += 1
                #expect(artifactErrorCodes.contains(code), "byte \(offset): \(code)")
            }
        }
        #expect(codes.values.reduce(0, +) == original.count)
        #expect(codes[.artifactCorrupt, default: 0] > original.count / 2)
    }

    /// Every prefix of the file is a truncation error; an appended byte is corruption.
    @Test func everyTruncationIsACodedError() throws {
        let original = Self.file
        for length in 0..<original.count {
            let code = errorCode { _ = try ArtifactReader.decode(original.prefix(length)) }
            #expect(code == .artifactTruncated, "length \(length): \(String(describing: code))")
        }
        #expect(errorCode { _ = try ArtifactReader.decode(original + Data([0])) } == .artifactCorrupt)
    }

    /// The same through the file system and the memory-mapped reader.
    @Test func truncatedFilesOnDiskAreCodedErrors() throws {
        let directory = try ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("t.kiln")
        for length in stride(from: 0, to: Self.file.count, by: 97) {
            try Self.file.prefix(length).write(to: url)
            #expect(errorCode { _ = try ArtifactReader.read(contentsOf: url) } == .artifactTruncated)
        }
        try Self.file.write(to: url)
        _ = try ArtifactReader.read(contentsOf: url)
    }

    /// A module whose payload fails after the temporary file holds the header, the module
    /// tree and the constants: the old artifact is untouched and no temporary file remains.
    @Test func anInterruptedExportLeavesTheOldFileIntact() throws {
        let directory = try ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("model.kiln")
        try ArtifactWriter.write(ArtifactFixtures.tree(), header: ArtifactFixtures.header(), to: url)
        let before = try Data(contentsOf: url)

        let probe = FailingModule.Probe()
        let failing = try ModuleTree(modules: [
            CPUModule(name: "cpu0", graph: SampleGraphs.convolution(channels: 8)),
            FailingModule(directory: directory, probe: probe),
        ])
        let code = errorCode { try ArtifactWriter.write(failing, header: ArtifactFixtures.header(), to: url) }
        #expect(code == .invalidArgument)
        #expect(probe.temporaryBytes.withLock { $0 } > 1000, "the failure came after the temporary file was written")
        #expect(try Data(contentsOf: url) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.kiln"])
        _ = try ArtifactReader.read(contentsOf: url)
    }

    @Test func anUnwritableDestinationIsWriteFailed() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-dir-\(UUID())/a.kiln")
        #expect(errorCode { try ArtifactWriter.write(ArtifactFixtures.tree(), header: ArtifactFixtures.header(), to: missing) } == .writeFailed)
    }
}

/// A module whose payload throws, after noting how big the writer's temporary file is.
struct FailingModule: Module {
    final class Probe: Sendable {
        let temporaryBytes = Mutex(0)
    }

    let directory: URL
    let probe: Probe
    var name: String { "failing" }
    var kind: ModuleKind { ModuleKind(rawValue: "failing") }
    var constantSymbols: [String] { [] }
    var functionSymbols: [String] { [] }
    var constants: [String: Tensor] { [:] }
    var facts: [String: String] { [:] }
    mutating func initialize(constants: [String: Tensor]) throws {}

    func payload() throws -> Data {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let sizes = names.filter { $0.contains(".tmp-") }.compactMap { name in
            (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path))?[.size] as? Int
        }
        probe.temporaryBytes.withLock { $0 = sizes.max() ?? 0 }
        throw KilnError(.invalidArgument, "payload failed on purpose")
    }
}
