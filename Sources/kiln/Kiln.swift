import ArgumentParser
import Foundation
import KilnCore
import Logging

/// The `kiln` command: import, inspect and run ONNX models (the flow grows with each release).
struct Kiln: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Import, partition, quantize, compile and run ONNX models for DPU-class int8 accelerators.",
        discussion: """
            Errors print one line, `error[KILN-NNNN]: …`, on stderr and exit non-zero \
            (1 for a failed job, 2 for bad command-line usage). \
            KILN_LOG_LEVEL=debug|info|warning sets the log level (default warning).
            """,
        version: KilnVersion.string,
        subcommands: [
            DeployCommand.self, RunCommand.self, CompileCommand.self, QuantizeCommand.self, InspectCommand.self,
            ShowCommand.self, BenchCommand.self, TargetsCommand.self, QueryCommand.self,
        ]
    )
}

/// The version `kiln --version` prints.
enum KilnVersion {
    static let string = "0.1.0"
}

@main
enum KilnMain {
    static func main() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            let level = ProcessInfo.processInfo.environment["KILN_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            handler.logLevel = level ?? .warning
            return handler
        }
        do {
            var command = try Kiln.parseAsRoot()
            try command.run()
        } catch let error as KilnError {
            ErrorReporting.fail(error)
        } catch {
            ErrorReporting.failParsing(error)
        }
    }
}
