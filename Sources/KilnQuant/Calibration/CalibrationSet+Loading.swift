import Foundation
import KilnCore
import KilnIR

extension CalibrationSet {
    /// Loads calibration samples from a `.npz` file or a directory, and validates them.
    ///
    /// - A `.npz` file holds one array per graph input. An array with one more axis than the
    ///   input counts samples along its first axis; an array of the input's rank is split
    ///   along its batch axis into samples of batch 1 — unless the input declares a static
    ///   batch above 1, in which case the array is one sample. Every input must give the same
    ///   number of samples.
    /// - A directory holds one sample per `.npy` or `.npz` file, taken in file-name order
    ///   (other files are ignored). A `.npy` file is the model's only input, so it works for
    ///   single-input models; a `.npz` file names each input.
    ///
    /// - Parameters:
    ///   - url: the `.npz` file or the directory.
    ///   - graph: the model the samples feed.
    ///   - limit: the number of samples to keep at most (the first ones); `nil` keeps all.
    /// - Throws: `fileNotFound`, `npzMalformed`, `npyMalformed` from reading;
    ///   `badCalibrationData`, `emptyCalibrationSet`, `nonFiniteCalibrationData` from
    ///   validation (see ``init(samples:for:)``).
    public static func load(contentsOf url: URL, for graph: Graph, limit: Int?) throws -> CalibrationSet {
        if let limit, limit < 1 {
            throw KilnError(.badCalibrationData, "calibration size \(limit) must be at least 1")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw KilnError(.fileNotFound, "no such calibration file or directory: '\(url.path)'")
        }
        let samples =
            isDirectory.boolValue
            ? try loadDirectory(url, graph: graph, limit: limit)
            : try splitArchive(try NPZ.read(contentsOf: url), graph: graph, source: url.lastPathComponent, limit: limit)
        return try CalibrationSet(samples: samples, for: graph)
    }

    /// The inputs a caller must feed, by name.
    private static func requiredInputs(_ graph: Graph) -> [Value] {
        graph.inputs.filter { graph.initializers[$0] == nil }.map { graph[$0] }
    }

    /// Splits the arrays of one `.npz` into samples (see ``load(contentsOf:for:limit:)``),
    /// without validating their values.
    ///
    /// - Parameters:
    ///   - arrays: the archive's arrays, each named after a graph input.
    ///   - graph: the model the samples feed.
    ///   - source: the archive's name, for errors.
    ///   - limit: the number of samples to keep at most.
    /// - Throws: `badCalibrationData` for an array that names no input, a missing input, a
    ///   rank that fits neither layout, or inputs giving different sample counts.
    public static func splitArchive(
        _ arrays: [String: Tensor], graph: Graph, source: String, limit: Int?
    ) throws -> [[String: Tensor]] {
        let inputs = Dictionary(
            graph.inputs.map { (graph[$0].name, graph[$0]) }, uniquingKeysWith: { first, _ in first })
        let required = requiredInputs(graph).map(\.name)
        for name in arrays.keys.sorted() where inputs[name] == nil {
            throw KilnError(
                .badCalibrationData,
                "\(source): array '\(name)' names no model input; the inputs are \(required.map { "'\($0)'" }.joined(separator: ", "))"
            )
        }
        for name in required where arrays[name] == nil {
            throw KilnError(.badCalibrationData, "\(source): no array for input '\(name)'")
        }
        var perInput: [(name: String, samples: [Tensor])] = []
        for (name, array) in arrays.sorted(by: { $0.key < $1.key }) {
            guard let value = inputs[name] else { continue }
            perInput.append((name, try samples(of: array, for: value, source: source)))
        }
        let counts = Set(perInput.map(\.samples.count))
        guard counts.count <= 1 else {
            let listing = perInput.map { "'\($0.name)': \($0.samples.count)" }.joined(separator: ", ")
            throw KilnError(.badCalibrationData, "\(source): inputs give different sample counts (\(listing))")
        }
        let count = min(counts.first ?? 0, limit ?? Int.max)
        return (0..<count).map { index in
            Dictionary(uniqueKeysWithValues: perInput.map { ($0.name, $0.samples[index]) })
        }
    }

    /// The samples one array holds for one input.
    private static func samples(of array: Tensor, for value: Value, source: String) throws -> [Tensor] {
        guard let shape = value.type.shape else { return [array] }
        if array.rank == shape.count + 1 {
            return slices(of: array, keepingAxis: false)
        }
        guard array.rank == shape.count, array.rank > 0 else {
            throw KilnError(
                .badCalibrationData,
                "\(source): array '\(value.name)' has shape \(array.shape); input \(value.type) needs rank \(shape.count) "
                    + "(slices along the batch axis) or \(shape.count + 1) (samples along the first axis)")
        }
        if let batch = shape[0].value, batch > 1 { return [array] }
        return slices(of: array, keepingAxis: true)
    }

    /// The slices of `array` along its first axis, with that axis kept as 1 or dropped.
    private static func slices(of array: Tensor, keepingAxis: Bool) -> [Tensor] {
        let count = array.shape.first ?? 0
        guard count > 0 else { return [] }
        let inner = Array(array.shape.dropFirst())
        let shape = keepingAxis ? [1] + inner : inner
        let stride = Tensor.elementCount(inner) * array.dtype.byteSize
        return array.withUnsafeBytes { bytes in
            (0..<count).map { index in
                Tensor(
                    shape: shape, dtype: array.dtype,
                    bytes: UnsafeRawBufferPointer(rebasing: bytes[(index * stride)..<((index + 1) * stride)]))
            }
        }
    }

    /// One sample per `.npy` / `.npz` file of a directory, in file-name order.
    private static func loadDirectory(_ url: URL, graph: Graph, limit: Int?) throws -> [[String: Tensor]] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: url.path)
        } catch {
            throw KilnError(
                .fileUnreadable, "cannot list calibration directory '\(url.path)': \(error.localizedDescription)")
        }
        let files = names.filter { name in
            let lower = name.lowercased()
            return !name.hasPrefix(".") && (lower.hasSuffix(".npy") || lower.hasSuffix(".npz"))
        }.sorted()
        guard !files.isEmpty else {
            throw KilnError(.emptyCalibrationSet, "calibration directory '\(url.path)' holds no .npy or .npz file")
        }
        let required = requiredInputs(graph)
        var samples: [[String: Tensor]] = []
        for file in files.prefix(limit ?? Int.max) {
            let fileURL = url.appendingPathComponent(file)
            if file.lowercased().hasSuffix(".npy") {
                guard required.count == 1, let input = required.first else {
                    throw KilnError(
                        .badCalibrationData,
                        "'\(file)': a .npy file feeds a single-input model; this model has \(required.count) inputs — use one .npz per sample"
                    )
                }
                samples.append([input.name: try NPY.read(contentsOf: fileURL)])
            } else {
                samples.append(try NPZ.read(contentsOf: fileURL))
            }
        }
        return samples
    }
}
