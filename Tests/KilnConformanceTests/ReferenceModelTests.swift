import Foundation
import KilnCore
import KilnInterpreter
import KilnONNX
import KilnTestSupport
import Testing

/// Whole models built by `Scripts/make_models.py` (into `build-data/models`, or the folder
/// named by `KILN_MODEL_DATA`) run through Kiln and are compared with onnxruntime's outputs:
/// max |kiln − ort| ≤ 1e-4 × (max − min) of each float output; integer outputs exactly.
@Suite struct ReferenceModelTests {
    @Test func manifestIsPresent() {
        #expect(
            ReferenceModels.manifest.count >= 8,
            "reference models missing in \(ReferenceModels.directory.path): run Scripts/test.sh (or Scripts/make_models.py build-data/models)")
    }

    @Test(arguments: ReferenceModels.manifest)
    func matchesOnnxruntime(_ entry: ReferenceModels.Entry) throws {
        let model = try ONNXImporter.importModel(contentsOf: entry.modelURL)
        for threads in [1, 2] {
            let interpreter = try Interpreter(graph: model.graph, threads: threads)
            for (inputs, expected) in try entry.inputSets() {
                let outputs = try interpreter.run(inputs)
                for (name, reference) in expected.sorted(by: { $0.key < $1.key }) {
                    let actual = try #require(outputs[name], "\(entry.name): output \(name) missing")
                    try #require(actual.shape == reference.shape, "\(entry.name)/\(name): shape \(actual.shape) != \(reference.shape)")
                    try #require(actual.dtype == reference.dtype, "\(entry.name)/\(name): dtype \(actual.dtype) != \(reference.dtype)")
                    let a = actual.doubleScalars()
                    let e = reference.doubleScalars()
                    let range = max((e.max() ?? 0) - (e.min() ?? 0), 1e-6)
                    let worst = zip(a, e).map { Swift.abs($0 - $1) }.max() ?? 0
                    print(String(format: "model %@ %@ (%d thread%@): max abs error %.3g, range %.4g, ratio %.3g", entry.name, name, threads, threads == 1 ? "" : "s", worst, range, worst / range))
                    if reference.dtype.isFloatingPoint {
                        #expect(worst <= 1e-4 * range, "\(entry.name)/\(name): max abs error \(worst) > 1e-4 × range \(range)")
                    } else {
                        #expect(worst == 0, "\(entry.name)/\(name): integer output differs")
                    }
                }
            }
        }
    }
}
