import Foundation
import KilnCore
import KilnTestSupport
import Testing

/// End-to-end tests of the `kiln` binary: exit codes, one-line coded errors, no partial files.
@Suite struct CLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let example = root.appendingPathComponent("Examples/mobilenetv2_tiny.onnx").path
    static let exampleInputs = root.appendingPathComponent("Examples/mobilenetv2_tiny.inputs.npz").path
    static let exampleExpected = root.appendingPathComponent("Examples/mobilenetv2_tiny.expected.npz").path

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The `kiln` executable beside the test bundle.
    static var binary: URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
            root.appendingPathComponent(".build/debug"),
        ]
        for directory in candidates {
            let url = directory.appendingPathComponent("kiln")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return root.appendingPathComponent(".build/debug/kiln")
    }

    static func kiln(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-cli-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Asserts a failure: the exit status, one stderr line with the code, and no `-o` file.
    static func expectFailure(
        _ result: Result, code: ErrorCode, status: Int32 = 1, noFileAt output: URL? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status == status, "exit status \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(lines.first?.hasPrefix("error[\(code)]: ") == true, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        if let output {
            #expect(!FileManager.default.fileExists(atPath: output.path), "partial output left behind", sourceLocation: sourceLocation)
        }
    }

    @Test func runsTheShippedExampleAndMatchesOnnxruntime() throws {
        let result = try Self.kiln(["run", Self.example, "--inputs", Self.exampleInputs, "--compare", Self.exampleExpected])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("logits: max abs error"))
        #expect(result.stdout.contains(" ok"))
    }

    @Test func writesOutputsUnderTheirONNXNames() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out.npz")
        let result = try Self.kiln(["run", Self.example, "--inputs", Self.exampleInputs, "-o", output.path, "--threads", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let arrays = try NPZ.read(contentsOf: output)
        #expect(Array(arrays.keys) == ["logits"])
        #expect(arrays["logits"]?.shape == [1, 10])
    }

    @Test func singleInputModelTakesABareNpy() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputs = try NPZ.read(contentsOf: URL(fileURLWithPath: Self.exampleInputs))
        let npy = directory.appendingPathComponent("x.npy")
        try NPY.encode(try #require(inputs["input"])).write(to: npy)
        let result = try Self.kiln(["run", Self.example, "-i", npy.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("logits: float32[1, 10]"))
    }

    @Test func missingInputFailsWithoutWriting() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out.npz")
        let result = try Self.kiln(["run", Self.example, "-o", output.path])
        Self.expectFailure(result, code: .missingInput, noFileAt: output)
    }

    @Test func wrongRankAndDTypeAreRejected() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out.npz")
        let wrongRank = directory.appendingPathComponent("rank.npy")
        try NPY.encode(Tensor(zeros: [3, 64, 64], dtype: .float32)).write(to: wrongRank)
        Self.expectFailure(
            try Self.kiln(["run", Self.example, "-i", "input=\(wrongRank.path)", "-o", output.path]),
            code: .inputShapeMismatch, noFileAt: output)
        let wrongType = directory.appendingPathComponent("type.npy")
        try NPY.encode(Tensor(zeros: [1, 3, 64, 64], dtype: .float64)).write(to: wrongType)
        Self.expectFailure(
            try Self.kiln(["run", Self.example, "-i", "input=\(wrongType.path)", "-o", output.path]),
            code: .inputDTypeMismatch, noFileAt: output)
        Self.expectFailure(
            try Self.kiln(["run", Self.example, "-i", "nosuch=\(wrongType.path)", "-o", output.path]),
            code: .unknownInput, noFileAt: output)
    }

    @Test func corruptNpyIsRejected() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out.npz")
        let corrupt = directory.appendingPathComponent("bad.npy")
        try NPY.encode(Tensor(zeros: [1, 3, 64, 64], dtype: .float32)).prefix(1000).write(to: corrupt)
        Self.expectFailure(
            try Self.kiln(["run", Self.example, "-i", "input=\(corrupt.path)", "-o", output.path]),
            code: .npyMalformed, noFileAt: output)
    }

    @Test func truncatedAndForeignModelsAreRejected() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out.npz")
        let model = try Data(contentsOf: URL(fileURLWithPath: Self.example))
        let truncated = directory.appendingPathComponent("truncated.onnx")
        try model.prefix(model.count / 2).write(to: truncated)
        Self.expectFailure(
            try Self.kiln(["run", truncated.path, "--inputs", Self.exampleInputs, "-o", output.path]),
            code: .notONNX, noFileAt: output)
        let text = directory.appendingPathComponent("notes.onnx")
        try Data("this is a text file, not a model\n".utf8).write(to: text)
        Self.expectFailure(try Self.kiln(["run", text.path, "-o", output.path]), code: .notONNX, noFileAt: output)
    }

    @Test func unknownOpIsNamed() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var builder = ONNXModelBuilder(opset: 17)
        builder.input("x", .float32, [2])
        builder.node("Relu", ["x"], ["r"])
        builder.node("MagicOp", ["r"], ["y"], name: "magic")
        builder.output("y", .float32, [2])
        let model = directory.appendingPathComponent("magic.onnx")
        try builder.serialized().write(to: model)
        let result = try Self.kiln(["show", model.path])
        Self.expectFailure(result, code: .unsupportedOp)
        #expect(result.stderr.contains("[MagicOp] node 'magic' (opset 17)"))
    }

    @Test(arguments: [
        ["run"],
        ["run", "model.onnx", "--threads", "0"],
        ["run", "model.onnx", "--no-such-flag"],
        ["frobnicate"],
    ])
    func badArgumentsAreUsageErrors(_ arguments: [String]) throws {
        Self.expectFailure(try Self.kiln(arguments), code: .badArgument, status: 2)
    }

    @Test func showJSONIsOneDocument() throws {
        let result = try Self.kiln(["show", Self.example, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["opset"] as? Int == 13)
        #expect((object?["inputs"] as? [[String: Any]])?.first?["name"] as? String == "input")
    }

    @Test func showPrintsTheIR() throws {
        let result = try Self.kiln(["show", Self.example])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("graph "))
        #expect(result.stdout.contains("= conv("))
    }
}
