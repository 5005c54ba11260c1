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
    struct Entry: Decodable, CustomTestStringConvertible, Sendable {
        let name: String
        let model: String
        let inputs: [String]
        let expected: [String]
        let opset: Int
        var testDescription: String { name }
    }

    static var directory: URL {
        if let path = ProcessInfo.processInfo.environment["KILN_MODEL_DATA"] {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("build-data/models")
    }

    static let manifest: [Entry] = {
        let url = directory.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url) else { return [] }
        return (try? JSONDecoder().decode([Entry].self, from: data)) ?? []
    }()

    @Test func manifestIsPresent() {
        #expect(
            Self.manifest.count >= 8,
            "reference models missing in \(Self.directory.path): run Scripts/test.sh (or Scripts/make_models.py build-data/models)")
    }

    @Test(arguments: manifest)
    func matchesOnnxruntime(_ entry: Entry) throws {
        let model = try ONNXImporter.importModel(contentsOf: Self.directory.appendingPathComponent(entry.model))
        for threads in [1, 2] {
            let interpreter = try Interpreter(graph: model.graph, threads: threads)
            for (inputFile, expectedFile) in zip(entry.inputs, entry.expected) {
                let inputs = try NPZ.read(contentsOf: Self.directory.appendingPathComponent(inputFile))
                let expected = try NPZ.read(contentsOf: Self.directory.appendingPathComponent(expectedFile))
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
