import Foundation
import KilnCore
import KilnIR
import KilnQuant
import KilnRuntime
import KilnTargets
import KilnTestSupport
import Testing

/// The build directory: a hit accelerates from the first input, another target misses, a
/// corrupt entry is reported and rebuilt, never used.
@Suite(.serialized) struct SessionBuildCacheTests {
    static let quantSize = 4

    struct Setup {
        var directory: URL
        var buildDirectory: URL
        var uncalibrated: URL
        var model: SessionFixtures.Model
        var target: DPUArchitecture
        var samples: [[String: Tensor]]
        var probe: [String: Tensor]
    }

    static func setup() throws -> Setup {
        let target = try Catalog.architecture(named: SessionFixtures.targetName)
        let model = try SessionFixtures.shippedModel()
        let directory = try SessionFixtures.temporaryDirectory()
        let uncalibrated = try SessionFixtures.uncalibratedArtifact(model, in: directory, target: target)
        return Setup(
            directory: directory, buildDirectory: directory.appendingPathComponent("build"), uncalibrated: uncalibrated,
            model: model, target: target, samples: SessionFixtures.samples(from: model.feed, count: quantSize),
            probe: SessionFixtures.samples(from: model.feed, count: 1, seed: 2)[0])
    }

    /// A session over the uncalibrated artifact with the build directory, run over the samples.
    static func calibrate(
        _ setup: Setup, target: DPUArchitecture? = nil, artifact: URL? = nil
    ) throws -> InferenceSession {
        let session = try InferenceSession(
            contentsOf: artifact ?? setup.uncalibrated, target: target ?? setup.target,
            options: SessionFixtures.options(.graph, quantSize: quantSize, buildDirectory: setup.buildDirectory))
        if case .calibrating = session.phase {
            for sample in setup.samples { _ = try session.run(sample) }
        }
        return session
    }

    static func entry(_ setup: Setup, _ session: InferenceSession) throws -> URL {
        BuildCache(directory: setup.buildDirectory).entryDirectory(for: try #require(session.key))
    }

    @Test func aHitAcceleratesFromTheFirstInput() throws {
        let setup = try Self.setup()
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        let first = try Self.calibrate(setup)
        #expect(first.phase == .accelerated)
        #expect(first.timings.calibrationRuns == Self.quantSize)
        let expected = try first.run(setup.probe)
        let entry = try Self.entry(setup, first)
        #expect(FileManager.default.fileExists(atPath: entry.appendingPathComponent("model.kiln").path))
        #expect(FileManager.default.fileExists(atPath: entry.appendingPathComponent("key.json").path))

        let second = try InferenceSession(
            contentsOf: setup.uncalibrated, target: setup.target,
            options: SessionFixtures.options(.vm, quantSize: Self.quantSize, buildDirectory: setup.buildDirectory))
        #expect(second.phase == .accelerated)
        #expect(second.events.contains { $0.level == .info && $0.message.contains("build-dir hit") })
        let outputs = try second.run(setup.probe)
        #expect(second.timings.calibrationRuns == 0)
        #expect(second.timings.acceleratedRuns == 1)
        for (name, tensor) in expected {
            #expect(SessionFixtures.maxDifference(tensor, try #require(outputs[name])) == 0)
        }
        #expect(second.artifact.header == first.artifact.header)

        // Another N is another key: a miss.
        let otherSize = try InferenceSession(
            contentsOf: setup.uncalibrated, target: setup.target,
            options: SessionFixtures.options(
                .graph, quantSize: Self.quantSize + 1, buildDirectory: setup.buildDirectory))
        #expect(otherSize.phase == .calibrating(observed: 0, of: Self.quantSize + 1))
    }

    @Test func anotherTargetMisses() throws {
        let setup = try Self.setup()
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        _ = try Self.calibrate(setup)
        let other = try Catalog.architecture(named: SessionFixtures.otherTargetName)
        let compiled = try ModelCompiler.compile(
            setup.model.graph, modelSHA256: setup.model.sha256, architecture: other)
        let url = setup.directory.appendingPathComponent("other.kiln")
        try ArtifactWriter.write(compiled.tree, header: compiled.header, to: url)
        let session = try InferenceSession(
            contentsOf: url, target: other,
            options: SessionFixtures.options(.graph, quantSize: Self.quantSize, buildDirectory: setup.buildDirectory))
        #expect(session.phase == .calibrating(observed: 0, of: Self.quantSize))
        #expect(!session.events.contains { $0.message.contains("build-dir") })
        for sample in setup.samples { _ = try session.run(sample) }
        #expect(session.phase == .accelerated)
        #expect(session.artifact.header.fingerprint == other.fingerprint)
        // Both entries now exist side by side.
        let entries = try FileManager.default.contentsOfDirectory(atPath: setup.buildDirectory.path)
        #expect(entries.count == 2)
    }

    enum Damage: String, CaseIterable, Sendable {
        case flipArtifactBytes, truncateArtifact, garbageKey, missingArtifact
    }

    @Test(arguments: Damage.allCases)
    func aCorruptEntryIsReportedAndRebuiltNeverUsed(_ damage: Damage) throws {
        let setup = try Self.setup()
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        let first = try Self.calibrate(setup)
        let entry = try Self.entry(setup, first)
        let model = entry.appendingPathComponent("model.kiln")
        let key = entry.appendingPathComponent("key.json")
        var bytes = try Data(contentsOf: model)
        switch damage {
        case .flipArtifactBytes:
            for offset in stride(from: bytes.count / 3, to: bytes.count, by: bytes.count / 5) { bytes[offset] ^= 0x5A }
            try bytes.write(to: model)
        case .truncateArtifact:
            try bytes.prefix(bytes.count / 2).write(to: model)
        case .garbageKey:
            try Data("{not json".utf8).write(to: key)
        case .missingArtifact:
            try FileManager.default.removeItem(at: model)
        }

        let second = try InferenceSession(
            contentsOf: setup.uncalibrated, target: setup.target,
            options: SessionFixtures.options(.graph, quantSize: Self.quantSize, buildDirectory: setup.buildDirectory))
        let warnings = second.events.filter { $0.level == .warning }
        #expect(warnings.count == 1)
        #expect(warnings.first?.message.contains("build-dir entry") == true)
        print("corrupt entry (\(damage.rawValue)): \(warnings.first?.message ?? "no warning")")
        // Never used: the session calibrates again, and rebuilds the entry afterwards.
        #expect(second.phase == .calibrating(observed: 0, of: Self.quantSize))
        for sample in setup.samples { _ = try second.run(sample) }
        #expect(second.phase == .accelerated)
        #expect(second.artifact.header == first.artifact.header)
        guard case .hit = BuildCache(directory: setup.buildDirectory).lookup(try #require(second.key)) else {
            Issue.record("the entry was not rebuilt")
            return
        }
    }
}

/// ``BuildKey`` and ``BuildCache`` on their own.
@Suite struct BuildCacheTests {
    static func key(
        samples: Int = 8, method: CalibrationMethod = .minmax, fingerprint: UInt64 = 0x101_0000_1601_0407
    )
        -> BuildKey
    {
        var config = QuantizationConfig()
        config.method = method
        return BuildKey(
            modelSHA256: String(repeating: "a", count: 64), fingerprint: Fingerprint(rawValue: fingerprint),
            config: config,
            samples: samples)
    }

    @Test func digestsAreStableAndDifferPerField() {
        #expect(Self.key().digest == Self.key().digest)
        #expect(Self.key().digest.count == 64)
        let digests = Set([
            Self.key().digest, Self.key(samples: 9).digest, Self.key(method: .percentile).digest,
            Self.key(fingerprint: 0x101_0000_1601_0406).digest,
        ])
        #expect(digests.count == 4)
    }

    @Test func environmentNamesTheDirectory() {
        #expect(BuildCache.fromEnvironment([:]) == nil)
        #expect(BuildCache.fromEnvironment(["KILN_BUILD_DIR": ""]) == nil)
        #expect(BuildCache.fromEnvironment(["PX_BUILD_DIR": "/tmp/px"])?.directory.path == "/tmp/px")
        #expect(
            BuildCache.fromEnvironment(["KILN_BUILD_DIR": "/tmp/k", "PX_BUILD_DIR": "/tmp/px"])?.directory.path
                == "/tmp/k")
        #expect(SessionOptions(environment: ["PX_QUANT_SIZE": "16"]).quantSize == 16)
        #expect(SessionOptions(environment: ["KILN_QUANT_SIZE": "4", "PX_QUANT_SIZE": "16"]).quantSize == 4)
        #expect(SessionOptions(environment: ["KILN_QUANT_SIZE": "zero"]).quantSize == SessionOptions.defaultQuantSize)
        #expect(SessionOptions(environment: [:]).quantSize == 128)
    }

    @Test func missStoreHitAndUncalibratedEntriesAreCorrupt() throws {
        let directory = try SessionFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cache = BuildCache(directory: directory.appendingPathComponent("cache"))
        let key = Self.key()
        guard case .miss = cache.lookup(key) else {
            Issue.record("an empty cache did not miss")
            return
        }
        // An uncalibrated artifact under the key is not a build: corrupt, and removed.
        let tree = try ArtifactFixtures.tree()
        var header = ArtifactFixtures.header()
        header.modelSHA256 = key.modelSHA256
        try cache.store(ArtifactWriter.encode(tree, header: header), for: key)
        guard case .corrupt(let reason) = cache.lookup(key) else {
            Issue.record("an uncalibrated entry was used")
            return
        }
        #expect(reason.contains("not the calibrated build"))
        #expect(!FileManager.default.fileExists(atPath: cache.entryDirectory(for: key).path))
        // A calibrated one hits.
        header.quantization = .calibrated(ArtifactFixtures.plan)
        try cache.store(ArtifactWriter.encode(tree, header: header), for: key)
        guard case .hit(let artifact) = cache.lookup(key) else {
            Issue.record("a valid entry did not hit")
            return
        }
        #expect(artifact.header == header)
        // A key file naming another key is corrupt.
        let other = Self.key(samples: 9)
        let encoder = JSONEncoder()
        try encoder.encode(other).write(to: cache.entryDirectory(for: key).appendingPathComponent("key.json"))
        guard case .corrupt = cache.lookup(key) else {
            Issue.record("a mismatched key file was trusted")
            return
        }
    }
}
