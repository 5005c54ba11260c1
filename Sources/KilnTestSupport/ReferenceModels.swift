import Foundation
import KilnCore

/// The reference models `Scripts/make_models.py` writes (into `build-data/models` of the
/// package, or the folder `KILN_MODEL_DATA` names), as listed by its `manifest.json`.
///
/// ```swift
/// @Test(arguments: ReferenceModels.manifest)
/// func runs(_ entry: ReferenceModels.Entry) throws {
///     let model = try ONNXImporter.importModel(contentsOf: entry.modelURL)
///     for (inputs, expected) in try entry.inputSets() { … }
/// }
/// ```
public enum ReferenceModels {
    /// One model of the manifest.
    public struct Entry: Decodable, Sendable, CustomStringConvertible {
        /// The model's name (`resnet_tiny`).
        public let name: String
        /// The `.onnx` file, relative to ``ReferenceModels/directory``.
        public let model: String
        /// One `.npz` of inputs per input set.
        public let inputs: [String]
        /// onnxruntime's outputs, one `.npz` per input set.
        public let expected: [String]
        /// The default-domain opset the model imports.
        public let opset: Int

        /// The model's name (how test cases are listed).
        public var description: String { name }

        /// The model file.
        public var modelURL: URL { directory.appendingPathComponent(model) }

        /// Each input set with onnxruntime's outputs for it.
        ///
        /// - Throws: `fileNotFound`, `npzMalformed`, … from reading the archives.
        public func inputSets() throws -> [(inputs: [String: Tensor], expected: [String: Tensor])] {
            try zip(inputs, expected).map { inputFile, expectedFile in
                (
                    try NPZ.read(contentsOf: directory.appendingPathComponent(inputFile)),
                    try NPZ.read(contentsOf: directory.appendingPathComponent(expectedFile))
                )
            }
        }
    }

    /// Where the models are: `KILN_MODEL_DATA`, or `build-data/models` in the package.
    public static var directory: URL {
        if let path = ProcessInfo.processInfo.environment["KILN_MODEL_DATA"] {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("build-data/models")
    }

    /// The manifest's entries; empty when the models have not been generated.
    public static let manifest: [Entry] = {
        let url = directory.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url) else { return [] }
        return (try? JSONDecoder().decode([Entry].self, from: data)) ?? []
    }()
}
