import Foundation
import KilnCore
import KilnRuntime

/// `DIR/dump.json`, the index of a `kiln run --dump DIR`: the artifact's target and
/// fingerprint, and per DPU subgraph each feature map's file (raw int8, C order), shape,
/// fix position, layout and role.
struct DumpIndex: Codable {
    /// One dumped feature map.
    struct Entry: Codable {
        let name: String
        let file: String
        let shape: [Int]
        let fixPosition: Int
        let layout: String
        let role: SubgraphDump.Role
        let dtype: String

        var elements: Int { shape.reduce(1, *) }

        enum CodingKeys: String, CodingKey {
            case name, file, shape
            case fixPosition = "fix_position"
            case layout, role, dtype
        }
    }

    /// One subgraph's first call.
    struct Subgraph: Codable {
        let id: Int
        let node: String
        /// How many times the run called it (the files hold the first call).
        let calls: Int
        let tensors: [Entry]
    }

    let format: String
    let model: String
    let target: String
    let fingerprint: String
    let subgraphs: [Subgraph]

    /// The index's file name inside the dump directory.
    static let fileName = "dump.json"

    /// A file name for value `name`: characters outside `[A-Za-z0-9._-]` become `_`, and a
    /// name already taken gets `_<n>`.
    static func fileName(for name: String, taken: inout Set<String>) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        var base = String(name.map { allowed.contains($0) ? $0 : "_" })
        if base.isEmpty || base.hasPrefix(".") { base = "_" + base }
        var candidate = base
        var suffix = 1
        while taken.contains(candidate.lowercased()) {
            candidate = "\(base)_\(suffix)"
            suffix += 1
        }
        taken.insert(candidate.lowercased())
        return candidate + ".bin"
    }

    /// Writes every recorded subgraph's maps to `directory/subgraph_<id>/` and the index
    /// beside them, each file atomically.
    ///
    /// - Throws: `writeFailed`.
    static func write(
        _ recorder: SubgraphDumpRecorder, artifact: Artifact, model: String, to directory: URL
    ) throws -> DumpIndex {
        var subgraphs: [Subgraph] = []
        for dump in recorder.dumps {
            let folder = "subgraph_\(dump.subgraph)"
            let folderURL = directory.appendingPathComponent(folder)
            do {
                try FileManager.default.createDirectory(at: folderURL, withIntermediateDirectories: true)
            } catch {
                throw KilnError(.writeFailed, "cannot create \(folderURL.path): \(error.localizedDescription)")
            }
            var taken: Set<String> = []
            var entries: [Entry] = []
            for map in dump.maps {
                let file = fileName(for: map.name, taken: &taken)
                let data = map.tensor.scalars(as: Int8.self).withUnsafeBufferPointer { Data(buffer: $0) }
                try FileIO.writeAtomically(data, to: folderURL.appendingPathComponent(file))
                entries.append(
                    Entry(
                        name: map.name, file: "\(folder)/\(file)", shape: map.tensor.shape,
                        fixPosition: map.fixPosition, layout: map.tensor.shape.count == 4 ? "NCHW" : "C-order",
                        role: map.role, dtype: "int8"))
            }
            subgraphs.append(
                Subgraph(id: dump.subgraph, node: dump.nodeName, calls: recorder.calls(of: dump.subgraph), tensors: entries))
        }
        let index = DumpIndex(
            format: "kiln-dump 1", model: model, target: artifact.header.target,
            fingerprint: artifact.header.fingerprint.description, subgraphs: subgraphs)
        try FileIO.writeAtomically(Data(try JSONOutput.encode(index).utf8), to: directory.appendingPathComponent(fileName))
        return index
    }

    /// Reads `directory/dump.json`.
    ///
    /// - Throws: `fileNotFound`, `badArgument` for an index that does not decode.
    static func read(from directory: URL) throws -> DumpIndex {
        let url = directory.appendingPathComponent(fileName)
        let data = try FileIO.read(url)
        do {
            return try JSONDecoder().decode(DumpIndex.self, from: data)
        } catch {
            throw KilnError(.badArgument, "\(url.path) is not a kiln dump index: \(error.localizedDescription)")
        }
    }

    /// The integers of `entry`, read from its file under `directory`.
    ///
    /// - Throws: `fileNotFound`; `badArgument` when the file's size is not the element count.
    static func integers(of entry: Entry, in directory: URL) throws -> [Int8] {
        let url = directory.appendingPathComponent(entry.file)
        let data = try FileIO.read(url)
        guard data.count == entry.elements else {
            throw KilnError(
                .badArgument, "\(url.path) holds \(data.count) bytes, but '\(entry.name)' has \(entry.elements) int8 elements")
        }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Int8.self)) }
    }
}
