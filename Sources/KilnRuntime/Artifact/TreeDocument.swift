import Foundation
import KilnCore

/// The `modules` section: the module tree as JSON, with the constants table of the root.
///
/// ```json
/// {"children":[{"constants":["cpu0/w"],"functions":["main"],"kind":"cpu","name":"cpu0","section":"module.0"}],
///  "constants":[{"dtype":"float32","length":64,"offset":0,"shape":[4,4],"symbol":"cpu0/w"}],
///  "kind":"metadata","name":"metadata","version":1}
/// ```
///
/// A constant's `offset` counts from the start of the `constants` section and is a multiple
/// of 64; `length` is its element count times its dtype's size. Fields are only ever added.
struct TreeDocument: Codable {
    static let currentVersion = 1

    var version: Int
    var name: String
    var kind: ModuleKind
    var constants: [ConstantRecord]
    var children: [ChildRecord]

    /// Where one constant lies in the `constants` section.
    struct ConstantRecord: Codable {
        var symbol: String
        var dtype: DType
        var shape: [Int]
        var offset: Int
        var length: Int
    }

    /// A child module: its kind, its payload section, the symbols it needs and exports.
    struct ChildRecord: Codable {
        var name: String
        var kind: ModuleKind
        var section: String
        var constants: [String]
        var functions: [String]
    }
}

extension TreeDocument.ConstantRecord {
    /// The tensor this record describes, from the `constants` section: a copy, or with
    /// `mapping` (the section's first byte in a mapped file, and the file) a tensor over the
    /// mapping.
    ///
    /// - Throws: `artifactMalformed` for a negative or overflowing shape, a length that is
    ///   not the shape's byte count, or bytes outside the section; `artifactCorrupt` for a
    ///   misaligned offset.
    func tensor(in section: Data, mapping: (base: UnsafeMutableRawPointer, file: AnyObject)? = nil) throws -> Tensor {
        var elements = 1
        for dim in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !overflow else {
                throw KilnError(.artifactMalformed, "constant '\(symbol)' has an impossible shape \(shape)")
            }
            elements = product
        }
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, byteCount == length else {
            throw KilnError(
                .artifactMalformed, "constant '\(symbol)' \(dtype)\(shape) has \(length) bytes, not its size")
        }
        guard offset % ArtifactFormat.alignment == 0 else {
            throw KilnError(.artifactCorrupt, "constant '\(symbol)' at offset \(offset) is not 64-byte aligned")
        }
        guard let bytes = section.bytes(at: offset, length: length) else {
            throw KilnError(.artifactMalformed, "constant '\(symbol)' lies outside the constants section")
        }
        if let mapping {
            return Tensor(shape: shape, dtype: dtype, mapping: mapping.base + offset, byteCount: length, owner: mapping.file)
        }
        return bytes.withUnsafeBytes { Tensor(shape: shape, dtype: dtype, bytes: $0) }
    }
}
