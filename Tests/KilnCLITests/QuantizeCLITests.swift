import Foundation
import KilnCore
import KilnTestSupport
import Testing

/// `kiln quantize`: the outputs it writes, the report, and coded errors before any work.
@Suite struct QuantizeCLITests {
    static let digits = CLITests.root.appendingPathComponent("Examples/digits_cnn.onnx").path

    /// Calibration images for the digits model: 16 deterministic 8×8 patterns in [0, 1].
    static func calibration(in directory: URL, name: String = "calib.npz", count: Int = 16) throws -> URL {
        let values: [Float] = (0..<(count * 64)).map { (index: Int) -> Float in
            let level = (index * 37 + (index / 64) * 11) % 17
            return Float(level) / 16
        }
        let url = directory.appendingPathComponent(name)
        try NPZ.write(["input": Tensor(shape: [count, 1, 8, 8], scalars: values)], to: url)
        return url
    }

    @Test func writesTheQDQModelThePlanAndTheChart() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let calib = try Self.calibration(in: directory)
        let output = directory.appendingPathComponent("digits.qdq.onnx")
        let svg = directory.appendingPathComponent("report.svg")
        let result = try CLITests.kiln([
            "quantize", Self.digits, "--calib", calib.path, "--method", "mse", "-o", output.path, "--report-svg",
            svg.path,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "no progress bar when stderr is not a terminal: \(result.stderr)")
        #expect(result.stdout.contains("model output SQNR"))
        #expect(result.stdout.contains("conv1"))
        let model = try Data(contentsOf: output)
        #expect(!model.isEmpty)
        let plan =
            try JSONSerialization.jsonObject(
                with: try Data(contentsOf: directory.appendingPathComponent("digits.qdq.quant.json"))) as? [String: Any]
        #expect(plan?["scale"] as? String == "pow2")
        #expect(plan?["method"] as? String == "mse")
        #expect(plan?["calibration_samples"] as? Int == 16)
        #expect(String(decoding: try Data(contentsOf: svg), as: UTF8.self).contains("<svg"))
        // The QDQ model runs in Kiln too.
        let run = try CLITests.kiln(["run", output.path, "-i", "input=\(try Self.image(in: directory).path)"])
        #expect(run.status == 0, "\(run.stderr)")
    }

    /// One test image as `.npy`.
    static func image(in directory: URL) throws -> URL {
        let url = directory.appendingPathComponent("image.npy")
        try NPY.encode(Tensor(shape: [1, 1, 8, 8], scalars: (0..<64).map { Float($0 % 9) / 8 })).write(to: url)
        return url
    }

    @Test func jsonIsOneDocument() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let calib = try Self.calibration(in: directory)
        let output = directory.appendingPathComponent("out.onnx")
        let result = try CLITests.kiln([
            "quantize", Self.digits, "--calib", calib.path, "--scale", "float", "--per-channel", "--asymmetric",
            "--calib-size", "4", "-o", output.path, "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(document?["scale"] as? String == "float")
        #expect(document?["calibration_samples"] as? Int == 4)
        #expect(document?["plan"] as? String == directory.appendingPathComponent("out.quant.json").path)
        let report = document?["report"] as? [String: Any]
        #expect((report?["layers"] as? [Any])?.isEmpty == false)
    }

    /// Bad calibration data: one coded line, before any work, nothing written.
    @Test func badCalibrationDataFailsBeforeWriting() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out.onnx")
        let plan = directory.appendingPathComponent("out.quant.json")
        func expectFailure(_ calib: URL, _ code: ErrorCode, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let result = try CLITests.kiln(["quantize", Self.digits, "--calib", calib.path, "-o", output.path])
            CLITests.expectFailure(result, code: code, noFileAt: output, sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: plan.path), sourceLocation: sourceLocation)
        }
        let wrongName = directory.appendingPathComponent("wrong.npz")
        try NPZ.write(["image": Tensor(zeros: [4, 1, 8, 8], dtype: .float32)], to: wrongName)
        try expectFailure(wrongName, .badCalibrationData)
        let wrongShape = directory.appendingPathComponent("shape.npz")
        try NPZ.write(["input": Tensor(zeros: [4, 3, 8, 8], dtype: .float32)], to: wrongShape)
        try expectFailure(wrongShape, .badCalibrationData)
        let wrongType = directory.appendingPathComponent("type.npz")
        try NPZ.write(["input": Tensor(zeros: [4, 1, 8, 8], dtype: .float64)], to: wrongType)
        try expectFailure(wrongType, .badCalibrationData)
        let nonFinite = directory.appendingPathComponent("nan.npz")
        try NPZ.write(
            ["input": Tensor(shape: [1, 1, 8, 8], scalars: [Float.nan] + [Float](repeating: 0, count: 63))],
            to: nonFinite)
        try expectFailure(nonFinite, .nonFiniteCalibrationData)
        let empty = directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try expectFailure(empty, .emptyCalibrationSet)
        try expectFailure(directory.appendingPathComponent("missing.npz"), .fileNotFound)
    }

    @Test func contradictoryOptionsAreCodedErrors() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let calib = try Self.calibration(in: directory)
        let output = directory.appendingPathComponent("out.onnx")
        let base = ["quantize", Self.digits, "--calib", calib.path, "-o", output.path]
        CLITests.expectFailure(
            try CLITests.kiln(base + ["--per-channel"]), code: .invalidQuantizationConfig, noFileAt: output)
        CLITests.expectFailure(
            try CLITests.kiln(base + ["--scale", "float", "--target", "DPUCZDX8G_ISA1_B4096"]),
            code: .invalidQuantizationConfig,
            noFileAt: output)
        CLITests.expectFailure(
            try CLITests.kiln(base + ["--target", "DPUCZDX8G_ISA1_B4095"]), code: .unknownTarget, noFileAt: output)
        CLITests.expectFailure(
            try CLITests.kiln(base + ["--method", "kl"]), code: .badArgument, status: 2, noFileAt: output)
        CLITests.expectFailure(
            try CLITests.kiln(base + ["--threads", "0"]), code: .badArgument, status: 2, noFileAt: output)
    }
}
