import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnPasses
import KilnTestSupport
import Testing

/// `Pass.canonicalization` over every reference model of `Scripts/make_models.py` (in
/// `build-data/models`, or the folder `KILN_MODEL_DATA` names): the canonical graph
/// verifies after each pass and computes onnxruntime's outputs (max |kiln − ort| ≤ 1e-4 ×
/// range) and the original graph's.
@Suite struct CanonicalizationModelTests {
    @Test func manifestIsPresent() {
        #expect(
            !ReferenceModels.manifest.isEmpty,
            "reference models missing in \(ReferenceModels.directory.path): run Scripts/make_models.py build-data/models"
        )
    }

    @Test(arguments: ReferenceModels.manifest)
    func canonicalGraphMatchesOnnxruntime(_ entry: ReferenceModels.Entry) throws {
        let original = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let (canonical, records) = try PassManager(Pass.canonicalization).run(original)
        let changed = records.filter { $0.nodesBefore != $0.nodesAfter }.map {
            "\($0.name) \($0.nodesBefore)->\($0.nodesAfter)"
        }
        var report = [
            "canonicalize \(entry.name): \(original.nodes.count) -> \(canonical.nodes.count) nodes",
            "  ops: \(Self.opCounts(original, canonical))",
            "  passes: \(changed.joined(separator: ", "))",
        ]
        defer { print(report.joined(separator: "\n")) }
        #expect(canonical.outputs.map { canonical[$0].name } == original.outputs.map { original[$0].name })
        let before = try Interpreter(graph: original)
        let after = try Interpreter(graph: canonical)
        for (inputs, expected) in try entry.inputSets() {
            let originalOutputs = try before.run(inputs)
            let outputs = try after.run(inputs)
            for (name, reference) in expected.sorted(by: { $0.key < $1.key }) {
                let actual = try #require(outputs[name], "\(entry.name): output \(name) missing")
                let uncanonical = try #require(originalOutputs[name])
                try #require(
                    actual.shape == reference.shape && actual.dtype == reference.dtype,
                    "\(entry.name)/\(name): \(actual) vs \(reference)")
                let versusOnnxruntime = PassTesting.relativeError(actual, reference)
                let versusOriginal = PassTesting.relativeError(actual, uncanonical)
                report.append(
                    String(
                        format: "  %@: error / range vs onnxruntime %.3g, vs original graph %.3g", name,
                        versusOnnxruntime, versusOriginal))
                #expect(versusOnnxruntime <= 1e-4, "\(entry.name)/\(name) vs onnxruntime")
                #expect(versusOriginal <= 1e-4, "\(entry.name)/\(name) vs the original graph")
            }
        }
    }

    /// Ops whose count changed, as `op before->after`.
    static func opCounts(_ before: Graph, _ after: Graph) -> String {
        func histogram(_ graph: Graph) -> [OpKind: Int] { graph.nodes.reduce(into: [:]) { $0[$1.op, default: 0] += 1 } }
        let (old, new) = (histogram(before), histogram(after))
        let ops = Set(old.keys).union(new.keys).sorted { $0.rawValue < $1.rawValue }
        return ops.filter { old[$0] != new[$0] }.map { "\($0) \(old[$0] ?? 0)->\(new[$0] ?? 0)" }.joined(
            separator: ", ")
    }
}
