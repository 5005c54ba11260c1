import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnPasses
import KilnTargets
import Testing

/// The reference models of `Scripts/make_models.py` (in `build-data/models`, or the folder
/// named by `KILN_MODEL_DATA`) partitioned for DPUCZDX8G_ISA1_B4096: the partition matches
/// its reviewed golden, and the partitioned graph computes what the model computes.
@Suite struct PartitionModelTests {
    struct Entry: Decodable, CustomTestStringConvertible, Sendable {
        let name: String
        let model: String
        let inputs: [String]
        let expected: [String]
        var testDescription: String { name }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var directory: URL {
        if let path = ProcessInfo.processInfo.environment["KILN_MODEL_DATA"] {
            return URL(fileURLWithPath: path)
        }
        return root.appendingPathComponent("build-data/models")
    }

    static let manifest: [Entry] = {
        let url = directory.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url) else { return [] }
        return (try? JSONDecoder().decode([Entry].self, from: data)) ?? []
    }()

    static let target = PartitionTestGraph.b4096

    @Test func manifestIsPresent() {
        #expect(
            Self.manifest.count >= 10,
            "reference models missing in \(Self.directory.path): run Scripts/make_models.py build-data/models")
    }

    /// `Goldens/Partition/<model>.txt` holds the inspector's table and summary; re-record
    /// with `KILN_RECORD_GOLDENS=1` (the recording run fails) and review the diff.
    @Test(arguments: manifest)
    func partitionMatchesGolden(_ entry: Entry) throws {
        let model = try ONNXImporter.importModel(contentsOf: Self.directory.appendingPathComponent(entry.model))
        let inspection = try InspectPipeline.inspect(model.graph, target: Self.target)
        let text = "model \(entry.name)\n\(inspection.report.text)\n"
        let url = Self.root.appendingPathComponent("Tests/KilnPassesTests/Goldens/Partition/\(entry.name).txt")
        if ProcessInfo.processInfo.environment["KILN_RECORD_GOLDENS"] != nil {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
            Issue.record("recorded \(url.path); run again without KILN_RECORD_GOLDENS")
            return
        }
        let recorded = try String(contentsOf: url, encoding: .utf8)
        #expect(recorded == text, "partition of \(entry.name) differs from its golden: re-record with KILN_RECORD_GOLDENS=1 and review")
    }

    /// Run in float, the partitioned graph gives the original graph's results exactly and
    /// onnxruntime's within 1e-4 of each output's range, with the default regions and with
    /// every region kept (more subgraph boundaries).
    @Test(arguments: manifest)
    func partitionedGraphComputesTheSame(_ entry: Entry) throws {
        let model = try ONNXImporter.importModel(contentsOf: Self.directory.appendingPathComponent(entry.model))
        let original = try Interpreter(graph: model.graph)
        for options in [PartitionOptions(), PartitionOptions(minimumRegion: .anyNode)] {
            let inspection = try InspectPipeline.inspect(model.graph, target: Self.target, options: options)
            let partitioned = try Interpreter(graph: inspection.partition.graph)
            for (inputFile, expectedFile) in zip(entry.inputs, entry.expected) {
                let inputs = try NPZ.read(contentsOf: Self.directory.appendingPathComponent(inputFile))
                let reference = try NPZ.read(contentsOf: Self.directory.appendingPathComponent(expectedFile))
                let before = try original.run(inputs)
                let after = try partitioned.run(inputs)
                #expect(after == before, "\(entry.name): the partitioned graph's results differ from the original's")
                for (name, expected) in reference.sorted(by: { $0.key < $1.key }) {
                    let actual = try #require(after[name], "\(entry.name): output \(name) missing")
                    try #require(actual.shape == expected.shape, "\(entry.name)/\(name): shape \(actual.shape)")
                    let a = actual.doubleScalars()
                    let e = expected.doubleScalars()
                    let range = max((e.max() ?? 0) - (e.min() ?? 0), 1e-6)
                    let worst = zip(a, e).map { Swift.abs($0 - $1) }.max() ?? 0
                    #expect(worst <= 1e-4 * range, "\(entry.name)/\(name): max abs error \(worst) > 1e-4 × range \(range)")
                }
            }
        }
    }
}
