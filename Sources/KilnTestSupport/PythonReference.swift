import Foundation

/// The repository's Python environment (`.venv`, made by `Scripts/setup-python.sh`) and
/// its scripts, for tests that check Kiln against onnxruntime.
///
/// `Scripts/test.sh` always creates the venv, so under CI (`CI=true`) a missing venv is a
/// failure; elsewhere the tests that need it skip.
public enum PythonReference {
    /// The package root.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The interpreter: `KILN_PYTHON`, else `.venv/bin/python` at the package root; `nil`
    /// when neither exists.
    public static var python: URL? {
        if let path = ProcessInfo.processInfo.environment["KILN_PYTHON"] {
            return FileManager.default.isExecutableFile(atPath: path) ? URL(fileURLWithPath: path) : nil
        }
        let venv = root.appendingPathComponent(".venv/bin/python")
        return FileManager.default.isExecutableFile(atPath: venv.path) ? venv : nil
    }

    /// Whether the tests run under CI, where a missing venv is an error.
    public static var isCI: Bool {
        ProcessInfo.processInfo.environment["CI"].map { $0 == "true" || $0 == "1" } ?? false
    }

    /// What to tell when the venv is missing.
    public static let missingMessage =
        "the Python venv (.venv with onnx and onnxruntime) is missing: run Scripts/setup-python.sh (Scripts/test.sh does)"

    /// A finished script run.
    public struct Run: Sendable {
        /// The exit status.
        public let status: Int32
        /// Standard output.
        public let stdout: String
        /// Standard error.
        public let stderr: String
    }

    /// Runs `Scripts/<script>` with `arguments` under ``python``.
    ///
    /// - Throws: when the venv is missing or the process cannot start.
    public static func run(_ script: String, _ arguments: [String]) throws -> Run {
        guard let python else { throw MissingPython() }
        let process = Process()
        process.executableURL = python
        process.arguments = [root.appendingPathComponent("Scripts/\(script)").path] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes concurrently so that neither fills up and blocks the child.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Thrown by ``run(_:_:)`` without a venv.
    public struct MissingPython: Error, CustomStringConvertible {
        public var description: String { PythonReference.missingMessage }
    }
}
