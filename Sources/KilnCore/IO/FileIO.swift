import Foundation

/// File reading and atomic writing with Kiln's error codes.
public enum FileIO {
    /// Reads a whole file.
    ///
    /// - Throws: `fileNotFound` or `fileUnreadable`.
    public static func read(_ url: URL) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw KilnError(.fileNotFound, "no such file: '\(url.path)'")
        }
        if isDirectory.boolValue {
            throw KilnError(.fileUnreadable, "'\(url.path)' is a directory, not a file")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw KilnError(.fileUnreadable, "cannot read '\(url.path)': \(error.localizedDescription)")
        }
    }

    /// Writes `data` to a temporary file beside `url`, then renames it over `url` (one
    /// `rename(2)`, which replaces an existing file atomically), so a failure never leaves a
    /// partial file and never loses the old one.
    ///
    /// - Throws: `writeFailed`.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw KilnError(.writeFailed, "cannot write '\(url.path)': \(error.localizedDescription)")
        }
        // Foundation's replaceItemAt on Linux removes the destination and then fails.
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw KilnError(.writeFailed, "cannot write '\(url.path)': \(reason)")
        }
    }
}
