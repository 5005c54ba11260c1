import Foundation
import KilnCore

/// An `arch.json` file, the way the Vitis AI compiler (`vai_c_* --arch`) takes a target.
///
/// Two forms exist (UG1414 §"arch.json"; the seed blog shows the first):
///
/// ```json
/// {"fingerprint": "0x101000016010406"}
/// {"target": "DPUCZDX8G_ISA1_B4096"}
/// ```
///
/// Reading accepts either key, or both when they name the same entry; other keys are
/// ignored. Writing uses the fingerprint when the entry has a public one, else the name.
///
/// ```swift
/// let arch = try ArchJSON.read(from: URL(fileURLWithPath: "arch.json"))
/// let target = try arch.resolve()
/// try ArchJSON(architecture: target).write(to: URL(fileURLWithPath: "copy.json"))
/// ```
public struct ArchJSON: Sendable, Hashable {
    /// The fingerprint the file gives, if any.
    public var fingerprint: Fingerprint?
    /// The target name the file gives, if any.
    public var target: String?

    /// Creates a document; at least one of the two should be set.
    public init(fingerprint: Fingerprint? = nil, target: String? = nil) {
        self.fingerprint = fingerprint
        self.target = target
    }

    /// The document for an entry: its fingerprint, or its name when that is not public.
    public init(architecture: DPUArchitecture) {
        if let fingerprint = architecture.fingerprint {
            self.init(fingerprint: fingerprint)
        } else {
            self.init(target: architecture.name)
        }
    }

    /// Parses an `arch.json` document.
    ///
    /// - Parameters:
    ///   - data: The file's bytes.
    ///   - source: The file name, for messages.
    /// - Throws: `badArch` (KILN-4002) for anything but a JSON object with a string
    ///   `fingerprint` (hex) and/or a string `target`.
    public static func decode(_ data: Data, source: String = "arch.json") throws -> ArchJSON {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch {
            throw KilnError(.badArch, "\(source): \(describe(error)); expected {\"fingerprint\": \"0x…\"} or {\"target\": \"NAME\"}")
        }
        var result = ArchJSON()
        if let text = document.fingerprint {
            guard let fingerprint = Fingerprint(hex: text) else {
                throw KilnError(.badArch, "\(source): fingerprint '\(text)' is not 0x followed by 1 to 16 hex digits")
            }
            result.fingerprint = fingerprint
        }
        if let target = document.target {
            guard !target.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw KilnError(.badArch, "\(source): target is empty")
            }
            result.target = target
        }
        guard result.fingerprint != nil || result.target != nil else {
            throw KilnError(.badArch, "\(source): has neither \"fingerprint\" nor \"target\"")
        }
        return result
    }

    /// Reads and parses an `arch.json` file.
    ///
    /// - Throws: `fileNotFound` / `fileUnreadable`, or `badArch`.
    public static func read(from url: URL) throws -> ArchJSON {
        try decode(try FileIO.read(url), source: url.path)
    }

    /// The catalog entry the document names.
    ///
    /// - Throws: `unknownFingerprint`, `unknownTarget`, or `badArch` when the fingerprint
    ///   and the target name different entries.
    public func resolve() throws -> DPUArchitecture {
        let byFingerprint = try fingerprint.map(Catalog.architecture(fingerprint:))
        let byName = try target.map(Catalog.architecture(named:))
        switch (byFingerprint, byName) {
        case let (found?, named?) where found.name != named.name:
            throw KilnError(
                .badArch, "arch.json: fingerprint \(fingerprint?.description ?? "") is \(found.name) but target names \(named.name)")
        case let (found?, _), let (nil, found?):
            return found
        case (nil, nil):
            throw KilnError(.badArch, "arch.json: has neither \"fingerprint\" nor \"target\"")
        }
    }

    /// The document as pretty-printed JSON with a final newline.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let document = Document(fingerprint: fingerprint?.description, target: target)
        // Encoding two optional strings cannot fail.
        let data = (try? encoder.encode(document)) ?? Data("{}".utf8)
        return data + Data("\n".utf8)
    }

    /// Writes the document atomically.
    ///
    /// - Throws: `writeFailed`.
    public func write(to url: URL) throws {
        try FileIO.writeAtomically(encoded(), to: url)
    }

    /// The wire form.
    private struct Document: Codable {
        var fingerprint: String?
        var target: String?
    }

    /// One line from a decoding error, without Foundation's coding-path noise.
    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted:
            return "not valid JSON"
        case DecodingError.typeMismatch(_, let context):
            let key = context.codingPath.last?.stringValue
            return key.map { "\"\($0)\" must be a string" } ?? "not a JSON object"
        case DecodingError.valueNotFound(_, let context):
            let key = context.codingPath.last?.stringValue ?? "value"
            return "\"\(key)\" is null"
        default:
            return "not an arch.json document"
        }
    }
}
