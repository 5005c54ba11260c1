import Foundation
import KilnCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a ``ModuleTree`` and its header as one `.kiln` file (`docs/artifact-format.md`).
///
/// The bytes depend only on the input: sorted JSON keys, constants in symbol order, modules
/// in tree order, zero padding, no timestamps. Writing goes to a temporary file beside the
/// destination, which is synced and then renamed over it, so a failure at any point (a
/// module whose payload throws, a full disk) leaves the old file as it was.
///
/// ```swift
/// let tree = try ModuleTree(modules: [CPUModule(name: "cpu0", graph: graph)])
/// let header = ArtifactHeader(
///     producer: "kiln 0.1.0", target: "DPUCZDX8G_ISA1_B4096", fingerprint: fingerprint,
///     modelSHA256: Checksum.sha256Hex(onnxBytes), quantization: .uncalibrated)
/// try ArtifactWriter.write(tree, header: header, to: URL(fileURLWithPath: "model.kiln"))
/// ```
public enum ArtifactWriter {
    /// Writes the artifact to `url` atomically.
    ///
    /// - Throws: `writeFailed` when the file cannot be written or JSON cannot be encoded;
    ///   whatever a module's ``Module/payload()`` throws. The old file, if any, is untouched.
    public static func write(_ tree: ModuleTree, header: ArtifactHeader, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw KilnError(.writeFailed, "cannot create a file in '\(directory.path)'")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            var sink = FileSink(handle: handle)
            try emit(tree, header: header, into: &sink)
            try handle.synchronize()
            guard rename(temporary.path, url.path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw KilnError(.writeFailed, "cannot rename the finished artifact to '\(url.path)': \(reason)")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if let error = error as? KilnError { throw error }
            throw KilnError(.writeFailed, "cannot write '\(url.path)': \(error.localizedDescription)")
        }
    }

    /// The artifact's bytes, as ``write(_:header:to:)`` would write them.
    ///
    /// - Throws: as ``write(_:header:to:)``.
    public static func encode(_ tree: ModuleTree, header: ArtifactHeader) throws -> Data {
        var sink = DataSink()
        try emit(tree, header: header, into: &sink)
        return sink.data
    }

    /// Lays out and writes every section, then the preamble and the section table over the
    /// placeholder at the start.
    private static func emit<Sink: ArtifactSink>(
        _ tree: ModuleTree, header: ArtifactHeader, into sink: inout Sink
    ) throws {
        let root = tree.root
        var constants: [TreeDocument.ConstantRecord] = []
        var constantsLength = 0
        for symbol in root.constants.keys.sorted() {
            guard let tensor = root.constants[symbol] else { continue }
            let offset = ArtifactFormat.aligned(constantsLength)
            constants.append(.init(
                symbol: symbol, dtype: tensor.dtype, shape: tensor.shape, offset: offset, length: tensor.byteCount))
            constantsLength = offset + tensor.byteCount
        }
        let children = root.children.enumerated().map { index, module in
            TreeDocument.ChildRecord(
                name: module.name, kind: module.kind, section: ArtifactFormat.moduleSection(index),
                constants: module.constantSymbols, functions: module.functionSymbols)
        }
        let document = TreeDocument(
            version: TreeDocument.currentVersion, name: MetadataModule.rootName, kind: .metadata,
            constants: constants, children: children)

        let sectionCount = 3 + children.count
        let tableEnd = ArtifactFormat.preambleSize + sectionCount * ArtifactFormat.sectionEntrySize
        try sink.write(Data(repeating: 0, count: tableEnd))

        var entries: [SectionEntry] = []
        var checksum = RunningChecksum()
        var sectionStart = 0
        func put(_ bytes: some DataProtocol) throws {
            checksum.update(bytes)
            try sink.write(bytes)
        }
        func section(_ name: String, _ body: () throws -> Void) throws {
            try sink.write(Data(repeating: 0, count: ArtifactFormat.aligned(sink.position) - sink.position))
            sectionStart = sink.position
            checksum = RunningChecksum()
            try body()
            entries.append(SectionEntry(
                name: name, offset: sectionStart, length: sink.position - sectionStart, sha256: checksum.finalize()))
        }
        try section(ArtifactFormat.headerSection) { try put(ArtifactJSON.encode(header, what: "the header")) }
        try section(ArtifactFormat.modulesSection) { try put(ArtifactJSON.encode(document, what: "the module tree")) }
        try section(ArtifactFormat.constantsSection) {
            for record in constants {
                try put(Data(repeating: 0, count: sectionStart + record.offset - sink.position))
                guard let tensor = root.constants[record.symbol] else { continue }
                try tensor.withUnsafeBytes { try put($0) }
            }
        }
        for (index, module) in root.children.enumerated() {
            try section(ArtifactFormat.moduleSection(index)) { try put(module.payload()) }
        }

        var table = Data()
        for entry in entries { table.append(entry.encoded()) }
        var preamble = Data(ArtifactFormat.magic)
        preamble.appendLittleEndian(ArtifactFormat.version.major)
        preamble.appendLittleEndian(ArtifactFormat.version.minor)
        preamble.appendLittleEndian(UInt32(sectionCount))
        preamble.appendLittleEndian(UInt64(sink.position))
        preamble.appendLittleEndian(UInt64(0))
        preamble.append(contentsOf: Checksum.sha256(preamble + table))
        try sink.overwrite(at: 0, with: preamble + table)
    }
}

/// Where the writer's bytes go: a file or memory.
protocol ArtifactSink {
    /// Bytes written so far.
    var position: Int { get }
    /// Appends bytes.
    mutating func write(_ bytes: some DataProtocol) throws
    /// Replaces bytes already written, from `offset`.
    mutating func overwrite(at offset: Int, with bytes: Data) throws
}

private struct DataSink: ArtifactSink {
    var data = Data()
    var position: Int { data.count }

    mutating func write(_ bytes: some DataProtocol) throws {
        data.append(contentsOf: bytes)
    }

    mutating func overwrite(at offset: Int, with bytes: Data) throws {
        data.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
    }
}

private struct FileSink: ArtifactSink {
    let handle: FileHandle
    private(set) var position = 0

    init(handle: FileHandle) {
        self.handle = handle
    }

    mutating func write(_ bytes: some DataProtocol) throws {
        try handle.write(contentsOf: bytes)
        position += bytes.count
    }

    mutating func overwrite(at offset: Int, with bytes: Data) throws {
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: bytes)
        try handle.seekToEnd()
    }
}
