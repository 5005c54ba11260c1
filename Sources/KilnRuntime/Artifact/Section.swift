import Foundation
import KilnCore

/// One entry of the section table: a named byte range of the file and its SHA-256.
///
/// ```
/// 0   32  name, UTF-8, zero-padded (at most 32 bytes)
/// 32   8  offset from the start of the file (u64 LE), a multiple of 64
/// 40   8  length in bytes (u64 LE)
/// 48  32  SHA-256 of the section's bytes
/// ```
public struct SectionEntry: Hashable, Sendable {
    /// The section's name (`header`, `modules`, `constants`, `module.0`, …).
    public var name: String
    /// Where the section starts, from the start of the file.
    public var offset: Int
    /// The section's length in bytes.
    public var length: Int
    /// The SHA-256 of the section's bytes.
    public var sha256: [UInt8]

    /// The byte range in the file.
    public var range: Range<Int> { offset..<(offset + length) }

    /// The 80-byte table entry.
    func encoded() -> Data {
        var data = Data(name.utf8)
        data.append(Data(repeating: 0, count: ArtifactFormat.sectionNameSize - data.count))
        data.appendLittleEndian(UInt64(offset))
        data.appendLittleEndian(UInt64(length))
        data.append(contentsOf: sha256)
        return data
    }

    /// Decodes the 80-byte entry `index` of `table`, checking only what the entry alone can
    /// say (the name's encoding; the offset and length fit in an `Int`).
    ///
    /// - Throws: `artifactCorrupt`.
    static func decode(_ table: Data, index: Int) throws -> SectionEntry {
        let base = index * ArtifactFormat.sectionEntrySize
        guard let nameBytes = table.bytes(at: base, length: ArtifactFormat.sectionNameSize),
            let rawOffset = table.littleEndianUInt64(at: base + 32),
            let rawLength = table.littleEndianUInt64(at: base + 40),
            let digest = table.bytes(at: base + 48, length: Checksum.size)
        else {
            throw KilnError(.artifactCorrupt, "section table entry \(index) is cut short")
        }
        let used = nameBytes.prefix { $0 != 0 }
        guard !used.isEmpty, nameBytes.dropFirst(used.count).allSatisfy({ $0 == 0 }),
            let name = String(bytes: used, encoding: .utf8)
        else {
            throw KilnError(.artifactCorrupt, "section table entry \(index) has no valid name")
        }
        guard let offset = Int(exactly: rawOffset), let length = Int(exactly: rawLength) else {
            throw KilnError(.artifactCorrupt, "section '\(name)' has an offset or length beyond any file")
        }
        return SectionEntry(name: name, offset: offset, length: length, sha256: Array(digest))
    }
}
