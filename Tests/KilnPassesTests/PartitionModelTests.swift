import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnPasses
import KilnTargets
import KilnTestSupport
import Testing

/// The reference models of `Scripts/make_models.py` (``ReferenceModels``) inspected for
/// DPUCZDX8G_ISA1_B4096 (canonicalized, annotated, partitioned): the partition matches its
/// reviewed golden, and the partitioned graph computes what the model computes.
@Suite struct PartitionModelTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let target = PartitionTestGraph.b4096

    @Test func manifestIsPresent() {
        #expect(
            ReferenceModels.manifest.count >= 10,
            "reference models missing in \(ReferenceModels.directory.path): run Scripts/make_models.py build-data/models")
    }

    /// `Goldens/Partition/<model>.txt` holds the inspector's table and summary; re-record
    /// with `KILN_RECORD_GOLDENS=1` (the recording run fails) and review the diff.
    @Test(arguments: ReferenceModels.manifest)
    func partitionMatchesGolden(_ entry: ReferenceModels.Entry) throws {
        let model = try ONNXImporter.importModel(contentsOf: entry.modelURL)
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

    /// Run in float, the partitioned graph gives the prepared (canonical) graph's results
    /// exactly, and the original model's and onnxruntime's within 1e-4 of each output's
    /// range; with the default regions and with every region kept (more boundaries).
    @Test(arguments: ReferenceModels.manifest)
    func partitionedGraphComputesTheSame(_ entry: ReferenceModels.Entry) throws {
        let model = try ONNXImporter.importModel(contentsOf: entry.modelURL)
        let original = try Interpreter(graph: model.graph)
        for options in [PartitionOptions(), PartitionOptions(minimumRegion: .anyNode)] {
            let inspection = try InspectPipeline.inspect(model.graph, target: Self.target, options: options)
            let prepared = try Interpreter(graph: inspection.graph)
            let partitioned = try Interpreter(graph: inspection.partition.graph)
            for (inputs, reference) in try entry.inputSets() {
                let canonical = try prepared.run(inputs)
                let before = try original.run(inputs)
                let after = try partitioned.run(inputs)
                #expect(after == canonical, "\(entry.name): the partitioned graph's results differ from the unpartitioned graph's")
                for (name, expected) in reference.sorted(by: { $0.key < $1.key }) {
                    let actual = try #require(after[name], "\(entry.name): output \(name) missing")
                    let unpartitioned = try #require(before[name])
                    try #require(actual.shape == expected.shape, "\(entry.name)/\(name): shape \(actual.shape)")
                    #expect(Self.relativeError(actual, expected) <= 1e-4, "\(entry.name)/\(name) vs onnxruntime")
                    #expect(Self.relativeError(actual, unpartitioned) <= 1e-4, "\(entry.name)/\(name) vs the original model")
                }
            }
        }
    }

    /// max |a − e| / (max − min of e).
    static func relativeError(_ actual: Tensor, _ expected: Tensor) -> Double {
        let a = actual.doubleScalars()
        let e = expected.doubleScalars()
        let range = max((e.max() ?? 0) - (e.min() ?? 0), 1e-6)
        return (zip(a, e).map { Swift.abs($0 - $1) }.max() ?? 0) / range
    }
}
