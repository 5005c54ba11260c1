import Foundation
import KilnCore
import KilnRuntime
import KilnTargets
import Testing

/// End-to-end tests of `kiln compile` and `kiln run --calibrate --export`.
@Suite(.serialized) struct CompileCLITests {
    static let target = "DPUCZDX8G_ISA1_B4096"

    /// `count` samples of the example's input, stacked along the batch axis in `many.npz`.
    static func manySamples(in directory: URL, count: Int = 6) throws -> URL {
        let feed = try NPZ.read(contentsOf: URL(fileURLWithPath: CLITests.exampleInputs))
        var stacked: [String: Tensor] = [:]
        for (name, tensor) in feed {
            let values = tensor.scalars(as: Float.self)
            var all: [Float] = []
            all.reserveCapacity(values.count * count)
            for sample in 0..<count {
                let factor = Float(0.6 + 0.15 * Double(sample))
                all += values.map { $0 * factor }
            }
            stacked[name] = Tensor(shape: [count] + tensor.shape.dropFirst(), scalars: all)
        }
        let url = directory.appendingPathComponent("many.npz")
        try NPZ.write(stacked, to: url)
        return url
    }

    /// compile (uncalibrated) → run --calibrate --export (OTF under the VM) → the export
    /// equals `kiln compile --calib` on the same samples, byte for byte; it runs accelerated.
    @Test func compileThenCalibrateOnTheFlyRoundTrip() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let many = try Self.manySamples(in: directory)
        let uncalibrated = directory.appendingPathComponent("un.kiln")
        let compile = try CLITests.kiln(["compile", CLITests.example, "--target", Self.target, "-o", uncalibrated.path])
        #expect(compile.status == 0, "\(compile.stderr)")
        #expect(compile.stdout.contains("uncalibrated"))
        #expect(compile.stdout.contains("dpu_subgraph_"))
        #expect(compile.stdout.contains("wrote \(uncalibrated.path) ("))

        let show = try CLITests.kiln(["show", uncalibrated.path])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("CPU float (uncalibrated"))

        let otf = directory.appendingPathComponent("otf.kiln")
        let run = try CLITests.kiln([
            "run", uncalibrated.path, "--inputs", many.path, "--calibrate", "--export", otf.path, "--executor", "vm",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("after run 6: calibrating 5/6 -> accelerated"))
        #expect(run.stdout.contains("timings: calibration 6 runs"))
        print("kiln run --calibrate output:\n\(run.stdout)")

        let offline = directory.appendingPathComponent("offline.kiln")
        let calibrated = try CLITests.kiln([
            "compile", CLITests.example, "--target", Self.target, "--calib", many.path, "-o", offline.path,
        ])
        #expect(calibrated.status == 0, "\(calibrated.stderr)")
        #expect(calibrated.stdout.contains(" instructions, "))
        // OTF over N samples == offline compile over the same N (same plan, same programs).
        let otfArtifact = try ArtifactReader.read(contentsOf: otf)
        let offlineArtifact = try ArtifactReader.read(contentsOf: offline)
        #expect(otfArtifact.header == offlineArtifact.header)
        #expect(try Data(contentsOf: otf) == Data(contentsOf: offline))

        let accelerated = try CLITests.kiln(["run", otf.path, "--inputs", CLITests.exampleInputs])
        #expect(accelerated.status == 0, "\(accelerated.stderr)")
        let showCalibrated = try CLITests.kiln(["show", otf.path, "--json"])
        #expect(showCalibrated.status == 0)
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(showCalibrated.stdout.utf8)) as? [String: Any])
        let subgraphs = try #require(document["subgraphs"] as? [[String: Any]])
        #expect(!subgraphs.isEmpty)
        #expect(subgraphs.allSatisfy { $0["device"] as? String == "DPU" && ($0["instructions"] as? Int ?? 0) > 0 })
    }

    @Test func compileJSONIsOneDocument() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("un.kiln")
        let result = try CLITests.kiln([
            "compile", CLITests.example, "--target", Self.target, "-o", output.path, "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["quantization"] as? String == "uncalibrated")
        #expect((document["artifact_bytes"] as? Int ?? 0) > 0)
    }

    @Test func calibrateJSONAndErrors() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let many = try Self.manySamples(in: directory, count: 3)
        // An ONNX model calibrates in memory when given a target.
        let result = try CLITests.kiln([
            "run", CLITests.example, "--target", Self.target, "--inputs", many.path, "--calibrate", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["phase"] as? String == "accelerated")
        #expect(document["switched_after_run"] as? Int == 3)

        let noTarget = try CLITests.kiln(["run", CLITests.example, "--inputs", many.path, "--calibrate"])
        CLITests.expectFailure(noTarget, code: .badArgument, status: 2)
        let output = directory.appendingPathComponent("x.kiln")
        let badTarget = try CLITests.kiln(["compile", CLITests.example, "--target", "nope", "-o", output.path])
        CLITests.expectFailure(badTarget, code: .unknownTarget, noFileAt: output)
        let exportWithout = try CLITests.kiln(["run", CLITests.example, "--inputs", many.path, "--export", output.path])
        CLITests.expectFailure(exportWithout, code: .badArgument, status: 2, noFileAt: output)
    }

    /// `kiln run MODEL.onnx --target T` compiles in memory (float bodies, onnxruntime's
    /// outputs); `kiln run ART --target OTHER` recompiles an artifact for another DPU.
    @Test func runCompilesInMemoryAndRecompilesForATarget() throws {
        let inMemory = try CLITests.kiln([
            "run", CLITests.example, "--target", Self.target, "--executor", "graph", "--inputs", CLITests.exampleInputs,
            "--compare", CLITests.exampleExpected,
        ])
        #expect(inMemory.status == 0, "\(inMemory.stderr)")
        #expect(inMemory.stdout.contains(" ok"))

        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let many = try Self.manySamples(in: directory, count: 3)
        let calibrated = directory.appendingPathComponent("b4096.kiln")
        let compile = try CLITests.kiln([
            "compile", CLITests.example, "--target", Self.target, "--calib", many.path, "-o", calibrated.path,
        ])
        #expect(compile.status == 0, "\(compile.stderr)")
        let other = try CLITests.kiln([
            "run", calibrated.path, "--target", "DPUCZDX8G_ISA1_B3136", "--inputs", CLITests.exampleInputs,
        ])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stdout.contains("logits"))
    }
}
