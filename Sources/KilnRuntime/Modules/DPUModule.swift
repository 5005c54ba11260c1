import Foundation
import KilnCore
import KilnDPU
import KilnTargets

/// The DPU programs of a compiled model, one per DPU subgraph, for one DPU configuration.
///
/// A program is opaque bytes here: the DPU compiler produces them and the emulator runs
/// them. Function `dpu_subgraph_<id>` runs the program of subgraph `id` (the `id` attribute
/// of the CPU graph's `dpuSubgraph` node).
///
/// ## Payload
/// `u64` little-endian length `M`, `M` bytes of JSON manifest
/// (`{"version", "fingerprint", "constants", "programs": [{"subgraph", "offset", "length"}]}`),
/// then the programs' bytes; each program's offset counts from the end of the manifest.
///
/// ## Running
/// ``initialize(constants:)`` decodes each program once (``KilnDPU/DPUProgram/init(serialized:)``)
/// and prepares an emulator per program; the module is then ``Executable``
/// (see `DPUModule+Execution.swift`). A program that does not decode leaves the module
/// loadable (`kiln show` still lists it) and calling it throws the decode error.
public struct DPUModule: Module {
    /// The module's name.
    public let name: String
    /// The DPU configuration the programs were compiled for.
    public let fingerprint: Fingerprint
    /// The compiled program of each subgraph, by subgraph id.
    public let programs: [Int: Data]
    /// Constants the programs read (e.g. packed weights), by symbol.
    public let constantSymbols: [String]
    /// The constants handed to the module.
    public private(set) var constants: [String: Tensor]
    /// Each program decoded and prepared for the emulator (or why it could not be), by
    /// subgraph id; filled by ``initialize(constants:)``.
    public private(set) var emulators: [Int: Result<DPUEmulator, KilnError>] = [:]

    /// Always ``ModuleKind/dpu``.
    public var kind: ModuleKind { .dpu }
    /// `dpu_subgraph_<id>` for each program, by id.
    public var functionSymbols: [String] { programs.keys.sorted().map(Self.functionSymbol(subgraph:)) }

    /// A module holding `programs` and the `constants` they read.
    ///
    /// - Parameters:
    ///   - name: Unique in the tree, e.g. `dpu0`.
    ///   - fingerprint: The DPU configuration the programs were compiled for.
    ///   - programs: Program bytes by subgraph id.
    ///   - constants: The tensors the programs read, by symbol (prefix them with `name/`).
    public init(name: String, fingerprint: Fingerprint, programs: [Int: Data], constants: [String: Tensor] = [:]) {
        self.name = name
        self.fingerprint = fingerprint
        self.programs = programs
        constantSymbols = constants.keys.sorted()
        self.constants = constants
    }

    private init(name: String, manifest: Manifest, programs: [Int: Data]) {
        self.name = name
        fingerprint = manifest.fingerprint
        self.programs = programs
        constantSymbols = Array(Set(manifest.constants)).sorted()
        constants = [:]
    }

    /// The function symbol of subgraph `id`'s program.
    public static func functionSymbol(subgraph id: Int) -> String { "dpu_subgraph_\(id)" }

    /// Fingerprint, program count and program bytes.
    public var facts: [String: String] {
        [
            "fingerprint": fingerprint.description, "programs": String(programs.count),
            "program_bytes": String(programs.values.reduce(0) { $0 + $1.count }),
        ]
    }

    /// Takes the constants the programs read and decodes each program once, preparing an
    /// emulator for it.
    public mutating func initialize(constants: [String: Tensor]) throws {
        self.constants = constants
        emulators = programs.mapValues(Self.prepare)
    }

    /// Decodes and prepares one program; a failure is kept for the first call.
    private static func prepare(_ bytes: Data) -> Result<DPUEmulator, KilnError> {
        do {
            return .success(try DPUEmulator(program: DPUProgram(serialized: bytes)))
        } catch let error as KilnError {
            return .failure(error)
        } catch {
            return .failure(KilnError(.dpuProgramMalformed, "DPU program: \(error)"))
        }
    }

    /// The manifest and the programs (see the type's documentation).
    public func payload() throws -> Data {
        var entries: [Manifest.Program] = []
        var blob = Data()
        for id in programs.keys.sorted() {
            let bytes = programs[id] ?? Data()
            entries.append(Manifest.Program(subgraph: id, offset: blob.count, length: bytes.count))
            blob.append(bytes)
        }
        let manifest = Manifest(
            version: Manifest.currentVersion, fingerprint: fingerprint, constants: constantSymbols, programs: entries)
        let json = try ArtifactJSON.encode(manifest, what: "DPU module '\(name)'")
        var payload = Data()
        payload.appendLittleEndian(UInt64(json.count))
        payload.append(json)
        payload.append(blob)
        return payload
    }

    /// Decodes a payload, checking every offset against the payload's length.
    static func decode(name: String, payload: Data) throws -> DPUModule {
        let what = "DPU module '\(name)'"
        guard let length = payload.littleEndianUInt64(at: 0), let manifestLength = Int(exactly: length),
            manifestLength <= payload.count - 8
        else {
            throw KilnError(.artifactMalformed, "\(what): the payload's manifest length is missing or past its end")
        }
        let manifestStart = payload.startIndex + 8
        let manifest = try ArtifactJSON.decode(
            Manifest.self, from: payload[manifestStart..<(manifestStart + manifestLength)], what: what)
        guard manifest.version <= Manifest.currentVersion else {
            throw KilnError(
                .artifactTooNew,
                "\(what) has payload version \(manifest.version); this Kiln reads up to \(Manifest.currentVersion)")
        }
        let blobStart = manifestStart + manifestLength
        let blobCount = payload.endIndex - blobStart
        var programs: [Int: Data] = [:]
        for entry in manifest.programs {
            guard entry.offset >= 0, entry.length >= 0, entry.offset <= blobCount, entry.length <= blobCount - entry.offset
            else {
                throw KilnError(.artifactMalformed, "\(what): program of subgraph \(entry.subgraph) lies outside the payload")
            }
            guard programs[entry.subgraph] == nil else {
                throw KilnError(.artifactMalformed, "\(what): two programs for subgraph \(entry.subgraph)")
            }
            let start = blobStart + entry.offset
            programs[entry.subgraph] = Data(payload[start..<(start + entry.length)])
        }
        return DPUModule(name: name, manifest: manifest, programs: programs)
    }

    /// The payload's JSON manifest; fields are only ever added.
    struct Manifest: Codable {
        static let currentVersion = 1
        var version: Int
        var fingerprint: Fingerprint
        var constants: [String]
        var programs: [Program]

        struct Program: Codable {
            var subgraph: Int
            var offset: Int
            var length: Int
        }
    }
}

/// Decodes ``DPUModule`` payloads.
public struct DPUBackend: Backend {
    /// Creates the back end.
    public init() {}

    /// ``ModuleKind/dpu``.
    public var kind: ModuleKind { .dpu }
    /// One line for `kiln show`.
    public var summary: String { "DPU: compiled programs per subgraph, run by the DPU emulator" }

    /// Decodes the manifest and the programs.
    ///
    /// - Throws: `artifactMalformed` for a payload that does not decode or whose offsets lie
    ///   outside it; `artifactTooNew` for a newer payload version.
    public func decodeModule(name: String, payload: Data) throws -> any Module {
        try DPUModule.decode(name: name, payload: payload)
    }
}
