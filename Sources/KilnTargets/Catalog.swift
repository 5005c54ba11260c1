import Foundation
import KilnCore

/// The DPU architectures Kiln knows, looked up by name, alias or fingerprint.
///
/// Names match case-insensitively and treat `-` and `_` alike, so `dpucadf8h-isa0` (the
/// spelling UG1414's inspector examples use) finds `DPUCADF8H_ISA0`. A compiler-style name
/// with the fingerprint appended (`DPUCZDX8G_ISA1_B4096_0101000056010407`) finds the entry
/// with that name and fingerprint. A miss is a ``KilnError`` listing the close matches.
///
/// ```swift
/// let kv260 = try Catalog.architecture(named: "DPUCZDX8G-kv260")
/// let same = try Catalog.architecture(fingerprint: Fingerprint(rawValue: 0x0101_0000_1601_0406))
/// ```
///
/// ### See Also
/// - ``DPUArchitecture``
/// - ``ArchJSON``
public enum Catalog {
    /// Every entry, grouped by family (one file per family under `Catalog/`).
    public static let architectures: [DPUArchitecture] =
        DPUCZDX8G.entries + DPUCVDX8G.entries + DPUCV2DX8G.entries + DPUCAHX8H.entries + DPUCADF8H.entries

    /// Normalized name or alias → index into ``architectures``.
    private static let nameIndex: [String: Int] = {
        var index: [String: Int] = [:]
        for (position, architecture) in architectures.enumerated() {
            for name in architecture.allNames {
                let key = normalized(name)
                precondition(index[key] == nil, "catalog name '\(name)' is used twice")
                index[key] = position
            }
        }
        return index
    }()

    /// Finds an entry by name or alias.
    ///
    /// - Parameter name: A target name (`DPUCZDX8G_ISA1_B4096`), an alias
    ///   (`DPUCZDX8G-zcu102`), or a name with its fingerprint appended.
    /// - Returns: The entry.
    /// - Throws: `unknownTarget` (KILN-4001), naming the closest names.
    public static func architecture(named name: String) throws -> DPUArchitecture {
        let key = normalized(name)
        if let position = nameIndex[key] { return architectures[position] }
        if let architecture = compilerNamed(key) { return architecture }
        throw KilnError(.unknownTarget, unknownNameMessage(name))
    }

    /// Finds the entry with this exact fingerprint.
    ///
    /// - Throws: `unknownFingerprint` (KILN-4003), saying what the fingerprint decodes to
    ///   and naming the closest entries.
    public static func architecture(fingerprint: Fingerprint) throws -> DPUArchitecture {
        if let architecture = architectures.first(where: { $0.fingerprint == fingerprint }) {
            return architecture
        }
        throw KilnError(.unknownFingerprint, unknownFingerprintMessage(fingerprint))
    }

    /// Finds an entry by name, alias or fingerprint: text that starts with `0x` is read as
    /// a fingerprint, anything else as a name (as `--target` accepts both).
    ///
    /// - Throws: `unknownTarget` (also for `0x` followed by something that is not 1–16 hex
    ///   digits) or `unknownFingerprint`.
    public static func architecture(matching text: String) throws -> DPUArchitecture {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("0x") else { return try architecture(named: trimmed) }
        guard let fingerprint = Fingerprint(hex: trimmed) else {
            throw KilnError(.unknownTarget, "unknown target '\(text)': not a fingerprint (0x followed by 1 to 16 hex digits)")
        }
        return try architecture(fingerprint: fingerprint)
    }

    /// The form names are compared in: upper case, `-` read as `_`, no surrounding spaces.
    static func normalized(_ name: String) -> String {
        name.trimmingCharacters(in: .whitespaces).uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// `NAME_<16 hex digits>`: the entry called NAME whose fingerprint has those digits.
    private static func compilerNamed(_ key: String) -> DPUArchitecture? {
        guard let separator = key.lastIndex(of: "_") else { return nil }
        let digits = key[key.index(after: separator)...]
        guard digits.count == 16, let fingerprint = Fingerprint(hex: String(digits)),
            let position = nameIndex[String(key[..<separator])],
            architectures[position].fingerprint == fingerprint
        else { return nil }
        return architectures[position]
    }
}
