import Foundation
import ZIPFoundation

/// Reading and writing NumPy `.npz` archives: a zip of `.npy` members, one per array.
public enum NPZ {
    /// Reads every array of an archive, keyed by member name without the `.npy` suffix.
    ///
    /// - Throws: `fileNotFound`, `npzMalformed` (not a zip, a member that is not `.npy`,
    ///   a bad compressed stream), and the errors of ``NPY/decode(_:name:)``.
    public static func read(contentsOf url: URL) throws -> [String: Tensor] {
        let data = try FileIO.read(url)
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw KilnError(.npzMalformed, "'\(url.path)' is not a .npz (zip) archive")
        }
        var arrays: [String: Tensor] = [:]
        for entry in archive where entry.type == .file {
            guard entry.path.hasSuffix(".npy") else {
                throw KilnError(.npzMalformed, "'\(url.path)': member '\(entry.path)' is not a .npy array")
            }
            var member = Data()
            do {
                _ = try archive.extract(entry, skipCRC32: false) { member.append($0) }
            } catch {
                throw KilnError(.npzMalformed, "'\(url.path)': member '\(entry.path)' cannot be extracted (\(error))")
            }
            let key = String(entry.path.dropLast(4))
            arrays[key] = try NPY.decode(member, name: "\(url.lastPathComponent)/\(entry.path)")
        }
        return arrays
    }

    /// Encodes arrays as an uncompressed `.npz` archive (what `np.savez` writes).
    ///
    /// - Throws: `writeFailed` if the archive cannot be built.
    public static func encode(_ arrays: [String: Tensor]) throws -> Data {
        do {
            let archive = try Archive(data: Data(), accessMode: .create)
            for key in arrays.keys.sorted() {
                guard let tensor = arrays[key] else { continue }
                let member = NPY.encode(tensor)
                try archive.addEntry(
                    with: key + ".npy", type: .file, uncompressedSize: Int64(member.count),
                    compressionMethod: .none
                ) { position, size in
                    member.subdata(in: Int(position)..<(Int(position) + size))
                }
            }
            guard let data = archive.data else {
                throw KilnError(.writeFailed, "cannot build .npz archive")
            }
            return data
        } catch let error as KilnError {
            throw error
        } catch {
            throw KilnError(.writeFailed, "cannot build .npz archive: \(error)")
        }
    }

    /// Writes arrays to `url` atomically (a temporary file, then a rename).
    public static func write(_ arrays: [String: Tensor], to url: URL) throws {
        try FileIO.writeAtomically(try encode(arrays), to: url)
    }
}
