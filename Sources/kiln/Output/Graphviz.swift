import Foundation
import KilnCore

/// Renders DOT text with Graphviz's `dot`, found on `PATH`.
enum Graphviz {
    /// The `dot` executable on `PATH`.
    ///
    /// - Throws: `graphvizMissing` (KILN-4004), saying how to install it.
    static func dotExecutable() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("dot")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw KilnError(
            .graphvizMissing,
            "--svg needs Graphviz's 'dot', which is not on PATH; install it with 'apt-get install graphviz' (or 'brew install graphviz'), or write --dot FILE and render it elsewhere")
    }

    /// Runs `dot -Tsvg` on `text` and returns the SVG.
    ///
    /// - Throws: `writeFailed` when `dot` fails.
    static func svg(_ text: String, dot: URL) throws -> Data {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-\(UUID().uuidString).dot")
        defer { try? FileManager.default.removeItem(at: input) }
        try FileIO.writeAtomically(Data(text.utf8), to: input)
        let process = Process()
        process.executableURL = dot
        process.arguments = ["-Tsvg", input.path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw KilnError(.writeFailed, "cannot run '\(dot.path)': \(error.localizedDescription)")
        }
        let svg = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let detail = message.split(whereSeparator: \.isNewline).first.map(String.init) ?? "no message"
            throw KilnError(.writeFailed, "'dot -Tsvg' failed with status \(process.terminationStatus): \(detail)")
        }
        return svg
    }
}
