import Foundation
import KilnCore
import KilnQuant
import KilnRuntime
import KilnTestSupport
import Testing

/// `kiln run ART --dump DIR` and `--compare-dump DIR`: every DPU feature map as raw int8
/// beside a `dump.json` index, and the golden compare against the fake-quant simulation.
@Suite struct DumpCLITests {
    static let target = "DPUCZDX8G_ISA1_B4096"

    /// A compiled artifact of the digits CNN (calibrated on 16 samples) and a two-sample
    /// input archive, in `directory`.
    static func digits(in directory: URL) throws -> (artifact: URL, inputs: URL) {
        let examples = CLITests.root.appendingPathComponent("Examples")
        let artifact = directory.appendingPathComponent("digits.kiln")
        let compile = try CLITests.kiln([
            "compile", examples.appendingPathComponent("digits_cnn.onnx").path, "--target", target,
            "--calib", examples.appendingPathComponent("digits/calib.npz").path, "--calib-size", "16", "-o", artifact.path,
        ])
        #expect(compile.status == 0, "\(compile.stderr)")
        let test = try NPZ.read(contentsOf: examples.appendingPathComponent("digits/test.npz"))
        let all = try #require(test["input"])
        let two = all.withUnsafeBytes { bytes in
            Tensor(
                shape: [2] + all.shape.dropFirst(), dtype: all.dtype,
                bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<(2 * 64 * 4)]))
        }
        let inputs = directory.appendingPathComponent("two.npz")
        try NPZ.write(["input": two], to: inputs)
        return (artifact, inputs)
    }

    /// The index as a JSON object.
    static func index(_ dump: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: dump.appendingPathComponent("dump.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Checks the files of a dump against its index and the artifact's plan; returns the tensor count.
    static func checkFiles(_ dump: URL, artifact: URL) throws -> Int {
        let document = try index(dump)
        let read = try ArtifactReader.read(contentsOf: artifact)
        guard case .calibrated(let plan) = read.header.quantization else {
            Issue.record("the artifact is not calibrated")
            return 0
        }
        #expect(document["target"] as? String == read.header.target)
        #expect(document["fingerprint"] as? String == read.header.fingerprint.description)
        let subgraphs = try #require(document["subgraphs"] as? [[String: Any]])
        #expect(!subgraphs.isEmpty)
        var count = 0
        var roles: Set<String> = []
        for subgraph in subgraphs {
            #expect(subgraph["calls"] as? Int == 1)
            for tensor in try #require(subgraph["tensors"] as? [[String: Any]]) {
                let name = try #require(tensor["name"] as? String)
                let file = try #require(tensor["file"] as? String)
                let shape = try #require(tensor["shape"] as? [Int])
                #expect(file.hasPrefix("subgraph_\(subgraph["id"] as? Int ?? -1)/") && file.hasSuffix(".bin"))
                let attributes = try FileManager.default.attributesOfItem(atPath: dump.appendingPathComponent(file).path)
                #expect((attributes[.size] as? Int) == shape.reduce(1, *), "\(file)")
                #expect(tensor["fix_position"] as? Int == plan.tensors[name]?.fixPosition, "\(name)")
                #expect(tensor["dtype"] as? String == "int8")
                #expect(tensor["layout"] as? String == (shape.count == 4 ? "NCHW" : "C-order"))
                roles.insert(tensor["role"] as? String ?? "")
                count += 1
            }
        }
        #expect(roles == ["input", "intermediate", "output"])
        return count
    }

    @Test func digitsDumpsEveryMapAndMatchesTheSimulation() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (artifact, inputs) = try Self.digits(in: directory)
        let dump = directory.appendingPathComponent("dump")
        let plain = directory.appendingPathComponent("plain.npz")
        let dumped = directory.appendingPathComponent("dumped.npz")
        let reference = try CLITests.kiln(["run", artifact.path, "--inputs", inputs.path, "-o", plain.path])
        #expect(reference.status != 0, "two samples do not fit the batch-1 artifact without --dump")
        let first = directory.appendingPathComponent("first.npz")
        let two = try #require(try NPZ.read(contentsOf: inputs)["input"])
        try NPZ.write(
            ["input": two.withUnsafeBytes { Tensor(shape: [1, 1, 8, 8], dtype: .float32, bytes: UnsafeRawBufferPointer(rebasing: $0[0..<256])) }],
            to: first)
        #expect(try CLITests.kiln(["run", artifact.path, "--inputs", first.path, "-o", plain.path]).status == 0)
        let result = try CLITests.kiln([
            "run", artifact.path, "--inputs", inputs.path, "--dump", dump.path, "--compare-dump", dump.path, "-o", dumped.path,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let tensors = try Self.checkFiles(dump, artifact: artifact)
        #expect(result.stdout.contains("wrote \(tensors) tensor(s) of 1 DPU subgraph(s)"))
        #expect(result.stdout.contains("\(tensors) of \(tensors) tensors match the fake-quant simulation"))
        #expect(!result.stdout.split(separator: "\n").contains { $0.hasSuffix("MISMATCH") })
        // The dumping run's outputs are the plain run's (the first sample's).
        let plainOutputs = try NPZ.read(contentsOf: plain)
        let dumpedOutputs = try NPZ.read(contentsOf: dumped)
        #expect(plainOutputs.keys.sorted() == dumpedOutputs.keys.sorted())
        for (name, tensor) in plainOutputs {
            #expect(dumpedOutputs[name]?.scalars(as: Float.self) == tensor.scalars(as: Float.self), "\(name)")
        }
    }

    @Test func aCorruptedFileOrAChangedFixPositionIsAMismatch() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (artifact, inputs) = try Self.digits(in: directory)
        let dump = directory.appendingPathComponent("dump")
        #expect(try CLITests.kiln(["run", artifact.path, "--inputs", inputs.path, "--dump", dump.path]).status == 0)
        let clean = try CLITests.kiln(["run", artifact.path, "--inputs", inputs.path, "--compare-dump", dump.path, "--json"])
        #expect(clean.status == 0, "\(clean.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(clean.stdout.utf8)) as? [String: Any])
        #expect(document["mismatched"] as? Int == 0)
        let rows = try #require(document["rows"] as? [[String: Any]])
        #expect(!rows.isEmpty && rows.allSatisfy { $0["result"] as? String == "MATCH" })

        // One flipped byte in an intermediate map.
        let subgraphs = try #require(try Self.index(dump)["subgraphs"] as? [[String: Any]])
        let tensors = try #require(subgraphs.first?["tensors"] as? [[String: Any]])
        let intermediate = try #require(tensors.first { $0["role"] as? String == "intermediate" })
        let name = try #require(intermediate["name"] as? String)
        let file = dump.appendingPathComponent(try #require(intermediate["file"] as? String))
        var bytes = try Data(contentsOf: file)
        bytes[3] = bytes[3] == 100 ? 101 : 100
        try bytes.write(to: file)
        let corrupted = try CLITests.kiln(["run", artifact.path, "--inputs", inputs.path, "--compare-dump", dump.path])
        CLITests.expectFailure(corrupted, code: .dpuDumpMismatch)
        let row = try #require(corrupted.stdout.split(separator: "\n").first { $0.contains(" \(name) ") })
        #expect(row.hasSuffix("MISMATCH") && row.contains(" 1 "), "\(row)")

        // A fresh dump whose index claims another fix position for the output.
        let shifted = directory.appendingPathComponent("shifted")
        #expect(try CLITests.kiln(["run", artifact.path, "--inputs", inputs.path, "--dump", shifted.path]).status == 0)
        let indexURL = shifted.appendingPathComponent("dump.json")
        let outputName = try #require(tensors.first { $0["role"] as? String == "output" }?["name"] as? String)
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any])
        var subs = try #require(json["subgraphs"] as? [[String: Any]])
        var entries = try #require(subs[0]["tensors"] as? [[String: Any]])
        let at = try #require(entries.firstIndex { $0["name"] as? String == outputName })
        entries[at]["fix_position"] = (entries[at]["fix_position"] as? Int ?? 0) + 1
        subs[0]["tensors"] = entries
        json["subgraphs"] = subs
        try JSONSerialization.data(withJSONObject: json).write(to: indexURL)
        let moved = try CLITests.kiln(["run", artifact.path, "--inputs", inputs.path, "--compare-dump", shifted.path])
        CLITests.expectFailure(moved, code: .dpuDumpMismatch)
        #expect(moved.stdout.split(separator: "\n").contains { $0.contains(" \(outputName) ") && $0.hasSuffix("MISMATCH") })
    }

    @Test(.enabled(if: ReferenceModels.manifest.contains { $0.name == "resnet_tiny" }, "KILN_MODEL_DATA has no resnet_tiny"))
    func resnetTinyDumpMatchesTheSimulation() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let models = ReferenceModels.directory
        let artifact = directory.appendingPathComponent("resnet.kiln")
        let inputs = models.appendingPathComponent("resnet_tiny.inputs.npz").path
        let compile = try CLITests.kiln([
            "compile", models.appendingPathComponent("resnet_tiny.onnx").path, "--target", Self.target, "--calib", inputs,
            "-o", artifact.path,
        ])
        #expect(compile.status == 0, "\(compile.stderr)")
        let dump = directory.appendingPathComponent("dump")
        let result = try CLITests.kiln([
            "run", artifact.path, "--inputs", inputs, "--dump", dump.path, "--compare-dump", dump.path, "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let rows = try #require(document["rows"] as? [[String: Any]])
        #expect(document["mismatched"] as? Int == 0)
        #expect(rows.count == (try Self.checkFiles(dump, artifact: artifact)))
        #expect(rows.contains { $0["role"] as? String == "intermediate" })
    }

    @Test func refusesWhatHasNoDPUProgram() throws {
        let directory = try CLITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let dump = directory.appendingPathComponent("dump")
        let onnx = try CLITests.kiln(["run", CLITests.example, "--inputs", CLITests.exampleInputs, "--dump", dump.path])
        CLITests.expectFailure(onnx, code: .badArgument, status: 2)
        let cpuOnly = try RunArtifactCLITests.exampleArtifact(in: directory)
        let uncompiled = try CLITests.kiln(["run", cpuOnly.path, "--inputs", CLITests.exampleInputs, "--dump", dump.path])
        CLITests.expectFailure(uncompiled, code: .badArgument, status: 2)
        #expect(uncompiled.stderr.contains("no compiled DPU program"))
        #expect(!FileManager.default.fileExists(atPath: dump.path))
        let calibrating = try CLITests.kiln([
            "run", cpuOnly.path, "--inputs", CLITests.exampleInputs, "--calibrate", "--dump", dump.path,
        ])
        CLITests.expectFailure(calibrating, code: .badArgument, status: 2)
    }
}
