import Foundation
import KilnCore
import KilnTargets

/// Loads a `.kiln` file, verifying everything before trusting anything.
///
/// In order: the magic; the format version (a newer major is refused before anything else
/// is read); the preamble and section table against their SHA-256; the file length; every
/// section's bounds, alignment and SHA-256, and the zero padding between sections; then the
/// header, the fingerprint, the module tree, the constants table and each module's payload.
/// Any failure is one ``KilnError`` with an artifact code; nothing on this path traps.
/// Sections the reader does not know are verified and ignored.
///
/// The file is mapped privately (``MappedFile``) and verified whole; then its pages are
/// released, and constants are tensors over the mapping, read in place: only what runs
/// becomes resident again. (``decode(_:expectedFingerprint:allowRecompile:backends:)``, on
/// bytes in memory, copies the constants instead.)
///
/// ```swift
/// let artifact = try ArtifactReader.read(
///     contentsOf: URL(fileURLWithPath: "model.kiln"), expectedFingerprint: target.fingerprint)
/// ```
public enum ArtifactReader {
    /// Reads and verifies the artifact at `url`.
    ///
    /// - Parameters:
    ///   - url: The `.kiln` file.
    ///   - expectedFingerprint: The DPU the caller will run on; `nil` accepts any.
    ///   - allowRecompile: Load an artifact compiled for another fingerprint anyway, marked
    ///     ``Artifact/needsRecompile``.
    ///   - backends: The back ends that decode module payloads.
    /// - Throws: `fileNotFound`, `fileUnreadable`, `notArtifact`, `artifactTooNew`,
    ///   `artifactTruncated`, `artifactCorrupt`, `artifactMalformed`, `fingerprintMismatch`,
    ///   `constantMissing`, `unknownModuleKind`.
    public static func read(
        contentsOf url: URL, expectedFingerprint: Fingerprint? = nil, allowRecompile: Bool = false,
        backends: [any Backend] = BackendRegistry.builtIn
    ) throws -> Artifact {
        let file = try mapping(url)
        return try decode(
            file.data, mapping: file, expectedFingerprint: expectedFingerprint, allowRecompile: allowRecompile,
            backends: backends)
    }

    /// Whether the file at `url` starts with the artifact magic (no other check).
    public static func hasMagic(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        let prefix = (try? handle.read(upToCount: ArtifactFormat.magic.count)) ?? Data()
        return ArtifactFormat.hasMagic(prefix)
    }

    /// Verifies and decodes artifact bytes; see ``read(contentsOf:expectedFingerprint:allowRecompile:backends:)``.
    public static func decode(
        _ data: Data, expectedFingerprint: Fingerprint? = nil, allowRecompile: Bool = false,
        backends: [any Backend] = BackendRegistry.builtIn
    ) throws -> Artifact {
        try decode(
            data, mapping: nil, expectedFingerprint: expectedFingerprint, allowRecompile: allowRecompile,
            backends: backends)
    }

    /// `data` is all of `mapping`'s bytes when given: constants then view the mapping.
    private static func decode(
        _ data: Data, mapping: MappedFile?, expectedFingerprint: Fingerprint?, allowRecompile: Bool,
        backends: [any Backend]
    ) throws -> Artifact {
        let (version, sections) = try verify(data)
        mapping?.releasePages()
        func section(_ name: String) throws -> Data {
            guard let entry = sections.first(where: { $0.name == name }),
                let bytes = data.bytes(at: entry.offset, length: entry.length)
            else {
                throw KilnError(.artifactMalformed, "the artifact has no '\(name)' section")
            }
            return bytes
        }
        let header = try ArtifactJSON.decode(
            ArtifactHeader.self, from: section(ArtifactFormat.headerSection), what: "the header")
        var needsRecompile = false
        if let expected = expectedFingerprint, expected != header.fingerprint {
            guard allowRecompile else {
                throw KilnError(
                    .fingerprintMismatch,
                    "the artifact was compiled for \(header.target) (fingerprint \(header.fingerprint)), "
                        + "not for fingerprint \(expected); compile it for this target, or allow recompiling")
            }
            needsRecompile = true
        }
        // Constants view the mapping at the constants section's offset in the file.
        var constantsBase: (UnsafeMutableRawPointer, MappedFile)?
        if let mapping, let base = mapping.base,
            let entry = sections.first(where: { $0.name == ArtifactFormat.constantsSection })
        {
            constantsBase = (base + entry.offset, mapping)
        }
        let tree = try decodeTree(
            section(ArtifactFormat.modulesSection), header: header, backends: backends, section: section,
            constantsBase: constantsBase)
        return Artifact(
            version: version, header: header, tree: tree, sections: sections, fileLength: data.count,
            needsRecompile: needsRecompile)
    }

    private static func mapping(_ url: URL) throws -> MappedFile {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw KilnError(.fileNotFound, "no such file: '\(url.path)'")
        }
        guard !isDirectory.boolValue else {
            throw KilnError(.fileUnreadable, "'\(url.path)' is a directory, not an artifact")
        }
        return try MappedFile(path: url.path)
    }

    // MARK: Container

    /// Checks the magic, the version, the preamble and table checksum, the file length, every
    /// section's bounds, alignment and checksum, and the padding.
    static func verify(_ data: Data) throws -> (FormatVersion, [SectionEntry]) {
        let magic = ArtifactFormat.magic
        guard data.count >= magic.count else {
            if data.elementsEqual(magic.prefix(data.count)) {
                throw KilnError(.artifactTruncated, "the artifact is \(data.count) bytes, shorter than its magic")
            }
            throw KilnError(.notArtifact, "the file does not start with the artifact magic 'KILNART\\0'")
        }
        guard ArtifactFormat.hasMagic(data) else {
            throw KilnError(.notArtifact, "the file does not start with the artifact magic 'KILNART\\0'")
        }
        guard let major = data.littleEndian(UInt16.self, at: 8), let minor = data.littleEndian(UInt16.self, at: 10) else {
            throw KilnError(.artifactTruncated, "the artifact is \(data.count) bytes and ends inside its version")
        }
        let version = FormatVersion(major: major, minor: minor)
        guard major <= ArtifactFormat.version.major else {
            throw KilnError(
                .artifactTooNew,
                "the artifact has format version \(version), written by a newer Kiln; "
                    + "this Kiln reads format \(ArtifactFormat.version.major).x")
        }
        guard major == ArtifactFormat.version.major else {
            throw KilnError(.artifactCorrupt, "the artifact has format version \(version), which no Kiln wrote")
        }
        guard data.count >= ArtifactFormat.preambleSize,
            let rawCount = data.littleEndian(UInt32.self, at: 12),
            let rawLength = data.littleEndianUInt64(at: 16),
            let preamble = data.bytes(at: 0, length: 32),
            let storedChecksum = data.bytes(at: 32, length: Checksum.size)
        else {
            throw KilnError(.artifactTruncated, "the artifact is \(data.count) bytes and ends inside its preamble")
        }
        let count = Int(rawCount)
        guard count <= ArtifactFormat.maximumSectionCount else {
            throw KilnError(.artifactCorrupt, "the artifact claims \(count) sections")
        }
        let tableEnd = ArtifactFormat.preambleSize + count * ArtifactFormat.sectionEntrySize
        guard let table = data.bytes(at: ArtifactFormat.preambleSize, length: tableEnd - ArtifactFormat.preambleSize) else {
            throw KilnError(.artifactTruncated, "the artifact is \(data.count) bytes and ends inside its section table")
        }
        guard Checksum.sha256(preamble + table).elementsEqual(storedChecksum) else {
            throw KilnError(.artifactCorrupt, "the preamble or the section table does not match its SHA-256")
        }
        guard let fileLength = Int(exactly: rawLength), fileLength >= tableEnd else {
            throw KilnError(.artifactCorrupt, "the artifact's recorded length \(rawLength) is impossible")
        }
        guard data.count >= fileLength else {
            throw KilnError(.artifactTruncated, "the artifact is \(data.count) bytes, but was written with \(fileLength)")
        }
        guard data.count == fileLength else {
            throw KilnError(.artifactCorrupt, "the artifact has \(data.count - fileLength) bytes after its end")
        }

        var sections: [SectionEntry] = []
        var names: Set<String> = []
        for index in 0..<count {
            let entry = try SectionEntry.decode(table, index: index)
            guard names.insert(entry.name).inserted else {
                throw KilnError(.artifactCorrupt, "two sections are named '\(entry.name)'")
            }
            guard entry.offset % ArtifactFormat.alignment == 0, entry.offset >= tableEnd,
                entry.offset <= fileLength, entry.length <= fileLength - entry.offset
            else {
                throw KilnError(
                    .artifactCorrupt,
                    "section '\(entry.name)' (offset \(entry.offset), \(entry.length) bytes) is misaligned or outside the file")
            }
            sections.append(entry)
        }
        sections.sort { $0.offset < $1.offset }
        var covered = tableEnd
        for entry in sections {
            guard entry.offset >= covered else {
                throw KilnError(.artifactCorrupt, "section '\(entry.name)' overlaps the one before it")
            }
            try checkPadding(data, from: covered, to: entry.offset)
            covered = entry.offset + entry.length
        }
        try checkPadding(data, from: covered, to: fileLength)
        for entry in sections {
            guard let bytes = data.bytes(at: entry.offset, length: entry.length),
                Checksum.sha256(bytes).elementsEqual(entry.sha256)
            else {
                throw KilnError(.artifactCorrupt, "section '\(entry.name)' does not match its SHA-256")
            }
        }
        return (version, sections)
    }

    private static func checkPadding(_ data: Data, from start: Int, to end: Int) throws {
        guard start < end else { return }
        guard let padding = data.bytes(at: start, length: end - start), padding.allSatisfy({ $0 == 0 }) else {
            throw KilnError(.artifactCorrupt, "the padding at bytes \(start)..<\(end) is not zero")
        }
    }

    // MARK: Module tree

    private static func decodeTree(
        _ bytes: Data, header: ArtifactHeader, backends: [any Backend], section: (String) throws -> Data,
        constantsBase: (UnsafeMutableRawPointer, MappedFile)?
    ) throws -> ModuleTree {
        let document = try ArtifactJSON.decode(TreeDocument.self, from: bytes, what: "the module tree")
        guard document.version <= TreeDocument.currentVersion else {
            throw KilnError(
                .artifactTooNew,
                "the module tree has version \(document.version); this Kiln reads up to \(TreeDocument.currentVersion)")
        }
        guard document.kind == .metadata else {
            throw KilnError(.artifactMalformed, "the module tree's root has kind '\(document.kind)', not 'metadata'")
        }
        let constantsSection = try section(ArtifactFormat.constantsSection)
        var constants: [String: Tensor] = [:]
        for record in document.constants {
            guard constants[record.symbol] == nil else {
                throw KilnError(.artifactMalformed, "constant '\(record.symbol)' is listed twice")
            }
            constants[record.symbol] = try record.tensor(in: constantsSection, mapping: constantsBase)
        }
        var children: [any Module] = []
        for record in document.children {
            let module = try BackendRegistry.decodeModule(
                kind: record.kind, name: record.name, payload: section(record.section), backends: backends)
            guard module.constantSymbols == record.constants.sorted(),
                module.functionSymbols.sorted() == record.functions.sorted()
            else {
                throw KilnError(
                    .artifactMalformed, "module '\(record.name)': its payload and the module tree disagree on its symbols")
            }
            if let dpu = module as? DPUModule, dpu.fingerprint != header.fingerprint {
                throw KilnError(
                    .artifactMalformed,
                    "DPU module '\(record.name)' was compiled for \(dpu.fingerprint), the header says \(header.fingerprint)")
            }
            children.append(module)
        }
        return try ModuleTree(root: MetadataModule(constants: constants, children: children))
    }
}
