import Foundation
import KilnCore

/// The byte form of a ``DPUProgram``: `KILNDPU\0`, format version (u32 LE), JSON length
/// (u64 LE), blob length (u64 LE), the program as JSON (without the blob), the int8 blob.
/// Decoding checks every length and every index before anything runs.
extension DPUProgram {
    /// The 8-byte magic.
    static let magic = Array("KILNDPU\0".utf8)
    /// Magic, version, two lengths.
    static let headerSize = 8 + 4 + 8 + 8

    /// The program as bytes.
    public func serialized() throws -> Data {
        var header = self
        header.blob = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(header)
        var data = Data(Self.magic)
        withUnsafeBytes(of: UInt32(version).littleEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(blob.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        blob.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    /// Decodes bytes written by ``serialized()``.
    ///
    /// - Throws: `dpuProgramMalformed` for a wrong magic, a newer version, lengths that do not
    ///   match the bytes, JSON that does not decode, or contents that are inconsistent
    ///   (``validate()``).
    public init(serialized data: Data) throws {
        let bytes = [UInt8](data)
        func fail(_ why: String) -> KilnError { KilnError(.dpuProgramMalformed, "DPU program: \(why)") }
        guard bytes.count >= Self.headerSize else { throw fail("\(bytes.count) bytes, shorter than the header") }
        guard Array(bytes[0..<8]) == Self.magic else { throw fail("no KILNDPU magic") }
        func integer(_ offset: Int, _ size: Int) -> UInt64 {
            (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << UInt64(8 * $1) }
        }
        let version = integer(8, 4)
        guard version >= 1, version <= UInt64(Self.currentVersion) else {
            throw fail("format version \(version), this Kiln reads up to \(Self.currentVersion)")
        }
        let jsonCount = integer(12, 8)
        let blobCount = integer(20, 8)
        let available = UInt64(bytes.count - Self.headerSize)
        guard jsonCount <= available, blobCount <= available - jsonCount, jsonCount + blobCount == available else {
            throw fail("lengths \(jsonCount) + \(blobCount) do not match the \(available) bytes after the header")
        }
        let jsonEnd = Self.headerSize + Int(jsonCount)
        var program: DPUProgram
        do {
            program = try JSONDecoder().decode(DPUProgram.self, from: Data(bytes[Self.headerSize..<jsonEnd]))
        } catch {
            throw fail("the program does not decode (\(error))")
        }
        guard program.version == Int(version), program.blob.isEmpty else { throw fail("header and program disagree") }
        program.blob = bytes[jsonEnd...].map { Int8(bitPattern: $0) }
        try program.validate()
        self = program
    }
}
