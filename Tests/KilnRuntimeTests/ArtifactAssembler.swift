import Foundation
import KilnRuntime

/// Takes an artifact apart and puts one together from named sections, following
/// docs/artifact-format.md independently of ``ArtifactWriter``, so tests can make files with
/// valid checksums around bad content, unknown sections or another version.
struct ArtifactAssembler {
    var major: UInt16 = 1
    var minor: UInt16 = 0
    var sections: [(name: String, bytes: Data)]

    /// The sections of a well-formed file, in table order.
    init(_ file: Data) {
        let count = Int(readInteger(file, at: 12, size: 4))
        sections = (0..<count).map { index in
            let base = 64 + 80 * index
            let name = String(decoding: file[base..<(base + 32)].prefix { $0 != 0 }, as: UTF8.self)
            let offset = Int(readInteger(file, at: base + 32, size: 8))
            let length = Int(readInteger(file, at: base + 40, size: 8))
            return (name, file[offset..<(offset + length)])
        }
    }

    /// The section named `name`.
    subscript(name: String) -> Data? {
        get { sections.first { $0.name == name }?.bytes }
        set {
            if let index = sections.firstIndex(where: { $0.name == name }) {
                if let newValue { sections[index].bytes = newValue } else { sections.remove(at: index) }
            } else if let newValue {
                sections.append((name, newValue))
            }
        }
    }

    /// The file: preamble, table, sections at multiples of 64 with zero padding.
    func assembled() -> Data {
        let tableEnd = 64 + 80 * sections.count
        var body = Data()
        var table = Data()
        var position = tableEnd
        for section in sections {
            let padding = (64 - position % 64) % 64
            body.append(Data(repeating: 0, count: padding))
            position += padding
            var name = Data(section.name.utf8)
            name.append(Data(repeating: 0, count: 32 - name.count))
            table.append(name)
            table.append(littleEndian(UInt64(position)))
            table.append(littleEndian(UInt64(section.bytes.count)))
            table.append(Data(Checksum.sha256(section.bytes)))
            body.append(section.bytes)
            position += section.bytes.count
        }
        var preamble = Data("KILNART".utf8) + Data([0])
        preamble.append(littleEndian(major))
        preamble.append(littleEndian(minor))
        preamble.append(littleEndian(UInt32(sections.count)))
        preamble.append(littleEndian(UInt64(position)))
        preamble.append(littleEndian(UInt64(0)))
        return preamble + Data(Checksum.sha256(preamble + table)) + table + body
    }

    /// The JSON of section `name` as a mutable dictionary.
    func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: self[name] ?? Data()) as? [String: Any] ?? [:]
    }

    /// Replaces section `name` with `object` as JSON.
    mutating func setJSON(_ name: String, _ object: [String: Any]) throws {
        self[name] = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }
}

private func readInteger(_ data: Data, at offset: Int, size: Int) -> UInt64 {
    (0..<size).reduce(UInt64(0)) { $0 | UInt64(data[data.startIndex + offset + $1]) << (8 * UInt64($1)) }
}

private func littleEndian<T: FixedWidthInteger>(_ value: T) -> Data {
    withUnsafeBytes(of: value.littleEndian) { Data($0) }
}
