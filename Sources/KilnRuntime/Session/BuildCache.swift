import Foundation
import KilnCore
import KilnQuant
import KilnTargets

/// What a build-dir cache entry is valid for: the model, the DPU configuration and the
/// quantization options. Two sessions share an entry only when all three are equal.
public struct BuildKey: Codable, Sendable, Equatable {
    /// Layout version of cache entries; a new layout never reads an old one.
    public static let layoutVersion = 1

    /// The layout version the entry was written with.
    public var layout: Int
    /// SHA-256 of the source model's bytes (or of its graph when it came from memory).
    public var modelSHA256: String
    /// The DPU configuration the programs are compiled for.
    public var fingerprint: Fingerprint
    /// The quantization options that shape the result, as text (method, scale, tools, N).
    public var quantization: [String: String]

    /// The key of a model, a target and quantization options; `samples` is the number of
    /// inputs calibration observes (the session's `KILN_QUANT_SIZE`).
    public init(modelSHA256: String, fingerprint: Fingerprint, config: QuantizationConfig, samples: Int) {
        layout = Self.layoutVersion
        self.modelSHA256 = modelSHA256
        self.fingerprint = fingerprint
        quantization = [
            "method": config.method.rawValue, "percentile": String(config.percentile), "scale": config.scale.rawValue,
            "per_channel": String(config.perChannel), "symmetric": String(config.symmetricActivations),
            "cle": String(config.crossLayerEqualization), "bias_correction": String(config.biasCorrection),
            "fast_finetune": String(config.fastFinetune), "samples": String(samples),
        ]
    }

    /// The entry's directory name: the SHA-256 of the key's canonical JSON.
    public var digest: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(self)) ?? Data()
        return Checksum.sha256Hex(json)
    }
}

/// The build directory (`KILN_BUILD_DIR`, alias `PX_BUILD_DIR`): calibrated, compiled
/// artifacts stored under their ``BuildKey``, so a later session with the same key skips
/// calibration and compilation.
///
/// Layout: `<dir>/<key digest>/key.json` (the key, for humans and as a check) and
/// `<dir>/<key digest>/model.kiln` (the artifact, with its own per-section SHA-256). An entry
/// is used only when its key file equals the expected key, the artifact verifies, and it is
/// calibrated for the expected fingerprint; anything else is reported as corrupt and
/// rebuilt, never used. Entries are written atomically (key last), so an interrupted write
/// leaves no entry.
public struct BuildCache: Sendable {
    /// What a lookup found.
    public enum Lookup: Sendable {
        /// A valid entry.
        case hit(Artifact)
        /// No entry for the key.
        case miss
        /// An entry exists but cannot be trusted (why); it has been removed.
        case corrupt(String)
    }

    /// The build directory.
    public let directory: URL

    /// A cache in `directory` (created on first store).
    public init(directory: URL) {
        self.directory = directory
    }

    /// The cache named by `KILN_BUILD_DIR` (or `PX_BUILD_DIR`) in `environment`, if any.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> BuildCache?
    {
        guard let path = environment["KILN_BUILD_DIR"] ?? environment["PX_BUILD_DIR"], !path.isEmpty else {
            return nil
        }
        return BuildCache(directory: URL(fileURLWithPath: path))
    }

    /// The entry directory of `key`.
    public func entryDirectory(for key: BuildKey) -> URL {
        directory.appendingPathComponent(key.digest, isDirectory: true)
    }

    /// Looks `key` up; a corrupt entry is deleted and reported.
    public func lookup(_ key: BuildKey) -> Lookup {
        let entry = entryDirectory(for: key)
        let keyURL = entry.appendingPathComponent("key.json")
        let artifactURL = entry.appendingPathComponent("model.kiln")
        guard FileManager.default.fileExists(atPath: keyURL.path) else { return .miss }
        func corrupt(_ reason: String) -> Lookup {
            try? FileManager.default.removeItem(at: entry)
            return .corrupt("build-dir entry \(entry.lastPathComponent): \(reason); rebuilding it")
        }
        guard let keyData = try? Data(contentsOf: keyURL),
            let stored = try? JSONDecoder().decode(BuildKey.self, from: keyData), stored == key
        else { return corrupt("its key file does not match") }
        let artifact: Artifact
        do {
            artifact = try ArtifactReader.read(
                contentsOf: artifactURL, expectedFingerprint: key.fingerprint)
        } catch let error as KilnError {
            return corrupt(error.message)
        } catch {
            return corrupt("\(error)")
        }
        guard case .calibrated = artifact.header.quantization, artifact.header.modelSHA256 == key.modelSHA256 else {
            return corrupt("the artifact is not the calibrated build of this model")
        }
        return .hit(artifact)
    }

    /// Stores an encoded, calibrated artifact under `key` (atomically; the key file last).
    ///
    /// - Throws: `writeFailed`.
    public func store(_ artifactBytes: Data, for key: BuildKey) throws {
        let entry = entryDirectory(for: key)
        do {
            try FileManager.default.createDirectory(at: entry, withIntermediateDirectories: true)
        } catch {
            throw KilnError(.writeFailed, "cannot create the build-dir entry \(entry.path): \(error.localizedDescription)")
        }
        try? FileManager.default.removeItem(at: entry.appendingPathComponent("key.json"))
        try FileIO.writeAtomically(artifactBytes, to: entry.appendingPathComponent("model.kiln"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let keyData = (try? encoder.encode(key)) ?? Data()
        try FileIO.writeAtomically(keyData, to: entry.appendingPathComponent("key.json"))
    }
}
