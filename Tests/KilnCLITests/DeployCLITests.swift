import Foundation
import KilnCore
import KilnTestSupport
import Testing

/// `kiln deploy`: the whole flow on the shipped digits model and data (the README's first command).
@Suite struct DeployCLITests {
    static let examples = CLITests.root.appendingPathComponent("Examples")
    static let arguments = [
        "deploy", examples.appendingPathComponent("digits_cnn.onnx").path, "--target", "DPUCZDX8G-zcu102", "--calib",
        examples.appendingPathComponent("digits/calib.npz").path, "--eval",
        examples.appendingPathComponent("digits/test.npz").path,
    ]

    /// Every stage reports; int8 accuracy stays within a point of float; the artifact written
    /// runs with `kiln run`.
    @Test func runsTheWholeFlowOnTheShippedExample() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let artifact = directory.appendingPathComponent("digits.kiln")
        let result = try CLITests.kiln(Self.arguments + ["-o", artifact.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        let run = try #require(document["run"] as? [String: Any])
        let float = try #require(run["float_top1"] as? Double)
        let int8 = try #require(run["int8_top1"] as? Double)
        print("deploy digits: float top-1 \(float), int8 top-1 \(int8), \(run)")
        #expect(float >= 0.95 && float - int8 <= 0.01)
        #expect(run["samples"] as? Int == 497)
        let compile = try #require(document["compile"] as? [String: Any])
        #expect(compile["dpu_subgraphs"] as? Int == 1)
        #expect((compile["instructions"] as? Int ?? 0) > 0)
        let device = try #require(document["device"] as? [String: Any])
        #expect((device["predicted_fps"] as? Double ?? 0) > 0)
        #expect(FileManager.default.fileExists(atPath: artifact.path))
        let show = try CLITests.kiln(["show", artifact.path])
        #expect(show.status == 0, "\(show.stderr)")
    }

    /// Labels that do not match the samples: a coded error, no artifact.
    @Test func mismatchedLabelsFailBeforeAnyWork() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let eval = directory.appendingPathComponent("eval.npz")
        try NPZ.write(
            [
                "input": Tensor(shape: [3, 1, 8, 8], scalars: [Float](repeating: 0.5, count: 192)),
                "label": Tensor(shape: [2], scalars: [Int64(1), 2]),
            ], to: eval)
        let artifact = directory.appendingPathComponent("out.kiln")
        var arguments = Self.arguments
        arguments[arguments.count - 1] = eval.path
        let result = try CLITests.kiln(arguments + ["-o", artifact.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("error[KILN-8001]"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: artifact.path))
    }
}
