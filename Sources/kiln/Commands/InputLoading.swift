import Foundation
import KilnCore
import KilnIR

/// Collects a model's inputs from `-i NAME=FILE.npy` options and an `--inputs` archive.
enum InputLoading {
    /// Loads and names the inputs; the interpreter checks them against the model.
    ///
    /// - Throws: `badArgument` for a malformed option, and the file errors of NPY/NPZ.
    static func load(files: [String], archive: String?, graph: Graph) throws -> [String: Tensor] {
        var inputs: [String: Tensor] = [:]
        if let archive {
            inputs = try NPZ.read(contentsOf: URL(fileURLWithPath: archive))
        }
        let required = graph.inputs.filter { graph.initializers[$0] == nil }.map { graph[$0].name }
        for option in files {
            let name: String
            let path: String
            if let equals = option.firstIndex(of: "=") {
                name = String(option[..<equals])
                path = String(option[option.index(after: equals)...])
            } else if required.count == 1 {
                name = required[0]
                path = option
            } else {
                throw KilnError(
                    .badArgument,
                    "-i '\(option)': name the input as NAME=FILE.npy (the model has inputs \(required))")
            }
            guard !name.isEmpty, !path.isEmpty else {
                throw KilnError(.badArgument, "-i '\(option)': expected NAME=FILE.npy")
            }
            inputs[name] = try NPY.read(contentsOf: URL(fileURLWithPath: path))
        }
        return inputs
    }
}
