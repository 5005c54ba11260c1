import Foundation
import KilnCore

/// The fixed facts of the `.kiln` file format; `docs/artifact-format.md` is the full
/// description and its evolution rules.
///
/// ```
/// 0      8  magic "KILNART\0"
/// 8      2  major version (u16 LE)      read first: a newer major is refused
/// 10     2  minor version (u16 LE)
/// 12     4  section count N (u32 LE)
/// 16     8  file length (u64 LE)
/// 24     8  reserved, zero
/// 32    32  SHA-256 of bytes 0..<32 and the section table
/// 64  80·N  section table (see ``SectionEntry``)
/// …         sections, each starting at a multiple of 64; zero padding between them
/// ```
public enum ArtifactFormat {
    /// The first 8 bytes of every artifact.
    public static let magic: [UInt8] = Array("KILNART".utf8) + [0]
    /// The version this Kiln writes. A reader accepts any minor of its major.
    public static let version = FormatVersion(major: 1, minor: 1)
    /// The size of the fixed preamble; the section table follows it.
    public static let preambleSize = 64
    /// The size of one section-table entry.
    public static let sectionEntrySize = 80
    /// The most bytes a section name has (UTF-8, zero-padded in the table).
    public static let sectionNameSize = 32
    /// Every section, and every constant in the constants section, starts at a multiple of
    /// this many bytes from the start of the file (a cache line; mmap pages are multiples).
    public static let alignment = 64
    /// A limit on the section count, so a damaged count cannot make the reader allocate much.
    public static let maximumSectionCount = 1 << 16

    /// The JSON header: producer, target, model hash, quantization state.
    public static let headerSection = "header"
    /// The JSON module tree with the constants table.
    public static let modulesSection = "modules"
    /// The constants, each 64-byte aligned.
    public static let constantsSection = "constants"
    /// The payload section of the `index`th module.
    public static func moduleSection(_ index: Int) -> String { "module.\(index)" }

    /// Whether `prefix` begins with the magic (a quick test for `kiln show`).
    public static func hasMagic(_ prefix: Data) -> Bool {
        prefix.count >= magic.count && prefix.prefix(magic.count).elementsEqual(magic)
    }

    /// `value` rounded up to a multiple of ``alignment``.
    static func aligned(_ value: Int) -> Int {
        (value + alignment - 1) / alignment * alignment
    }
}

/// A format version: a newer minor only adds (fields, sections), a newer major may break.
public struct FormatVersion: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// Bumped for a change an older reader cannot ignore.
    public var major: UInt16
    /// Bumped for an addition an older reader can ignore.
    public var minor: UInt16

    /// Creates a version.
    public init(major: UInt16, minor: UInt16) {
        self.major = major
        self.minor = minor
    }

    /// `1.0`.
    public var description: String { "\(major).\(minor)" }

    /// Orders by major, then minor.
    public static func < (lhs: FormatVersion, rhs: FormatVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}

/// The one JSON configuration of the artifact: sorted keys and no whitespace, so the same
/// input always gives the same bytes.
enum ArtifactJSON {
    /// Encodes `value`.
    ///
    /// - Throws: `writeFailed` (e.g. a NaN in a quantization plan).
    static func encode<T: Encodable>(_ value: T, what: String) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value)
        } catch {
            throw KilnError(.writeFailed, "cannot encode \(what) as JSON: \(error)")
        }
    }

    /// Decodes a `T` from `data`.
    ///
    /// - Throws: `artifactMalformed`, naming `what` and the decoder's reason.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw KilnError(.artifactMalformed, "\(what) is not valid: \(Self.describe(error))")
        } catch {
            throw KilnError(.artifactMalformed, "\(what) is not valid JSON: \(error.localizedDescription)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "" : " at \(keys)"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing field '\(key.stringValue)'\(path(context))"
        case .typeMismatch(_, let context): return "\(context.debugDescription)\(path(context))"
        case .valueNotFound(_, let context): return "missing value\(path(context))"
        case .dataCorrupted(let context): return "\(context.debugDescription)\(path(context))"
        @unknown default: return "\(error)"
        }
    }
}

extension Data {
    /// Appends `value` as little-endian bytes.
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// The little-endian `T` at `offset` bytes from the start, or `nil` past the end.
    func littleEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T? {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= count - size else { return nil }
        var value: T = 0
        for byte in 0..<size {
            value |= T(self[startIndex + offset + byte]) << (8 * byte)
        }
        return value
    }

    /// The little-endian `UInt64` at `offset`, or `nil` past the end.
    func littleEndianUInt64(at offset: Int) -> UInt64? {
        littleEndian(UInt64.self, at: offset)
    }

    /// The bytes `offset..<offset+length` counted from the start, or `nil` when any of them
    /// lies outside.
    func bytes(at offset: Int, length: Int) -> Data? {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else { return nil }
        return self[(startIndex + offset)..<(startIndex + offset + length)]
    }
}
