import Foundation
import KilnCore

/// The one way `--json` documents are written: sorted keys, pretty-printed, UTF-8.
enum JSONOutput {
    /// Encodes `value` as a JSON document.
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw KilnError(.writeFailed, "cannot encode JSON: \(error)")
        }
    }
}
