import Foundation
import KilnCore

extension QuantizationPlan {
    /// The plan as `OUT.quant.json` holds it: pretty-printed JSON with sorted keys, so the
    /// same plan always gives the same bytes.
    ///
    /// - Throws: `writeFailed` when encoding fails (a non-finite scale).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var data = try encoder.encode(self)
            data.append(contentsOf: Array("\n".utf8))
            return data
        } catch {
            throw KilnError(.writeFailed, "cannot encode the quantization plan as JSON: \(error)")
        }
    }
}
