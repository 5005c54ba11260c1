import ArgumentParser
import Foundation
import KilnCore

/// Turns errors into Kiln's one-line `error[KILN-NNNN]: …` messages and exit codes.
enum ErrorReporting {
    /// Exit status for a job that failed (bad model, bad data, runtime error).
    static let jobFailed: Int32 = 1
    /// Exit status for bad command-line usage.
    static let usage: Int32 = 2

    /// Prints a Kiln error and exits.
    static func fail(_ error: KilnError) -> Never {
        printError(error.description)
        exit(error.code == .badArgument ? usage : jobFailed)
    }

    /// Handles an error from argument parsing or a command: help and version requests exit
    /// cleanly through ArgumentParser; anything else is a usage error `KILN-8001`.
    static func failParsing(_ error: Error) -> Never {
        let code = Kiln.exitCode(for: error)
        if code == .success {
            Kiln.exit(withError: error)
        }
        let message = Kiln.message(for: error)
            .split(whereSeparator: \.isNewline).first.map(String.init) ?? "invalid arguments"
        printError(KilnError(.badArgument, "\(message) (see 'kiln --help')").description)
        exit(usage)
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
