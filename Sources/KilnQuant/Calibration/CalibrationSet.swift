import KilnCore
import KilnIR

/// The samples calibration runs the float model on: one feed dictionary per sample,
/// validated against the graph's inputs before any work starts.
///
/// Every sample names exactly the graph inputs the caller must provide (inputs with an
/// initializer as default may be given or left out), each with the input's element type and
/// a shape that agrees with every static dimension of the input's declared shape; floating
/// point samples hold no NaN or infinity.
///
/// ```swift
/// let set = try CalibrationSet.load(contentsOf: URL(fileURLWithPath: "calib.npz"), for: graph, limit: 100)
/// set.samples.count   // ≤ 100
/// ```
public struct CalibrationSet: Sendable {
    /// One feed dictionary (input name → tensor) per sample.
    public var samples: [[String: Tensor]]

    /// Validates samples against `graph`'s inputs.
    ///
    /// - Throws: `emptyCalibrationSet` when there is no sample; `badCalibrationData` for an
    ///   unknown or missing input name, a wrong element type or shape;
    ///   `nonFiniteCalibrationData` for NaN or infinity.
    public init(samples: [[String: Tensor]], for graph: Graph) throws {
        try Self.validate(samples, for: graph)
        self.samples = samples
    }

    /// Checks samples against `graph` (see ``init(samples:for:)``).
    static func validate(_ samples: [[String: Tensor]], for graph: Graph) throws {
        guard !samples.isEmpty else {
            throw KilnError(
                .emptyCalibrationSet, "the calibration set holds no sample; give at least one (100–1000 are typical)")
        }
        let inputs = graph.inputs.map { graph[$0] }
        let required = graph.inputs.filter { graph.initializers[$0] == nil }.map { graph[$0].name }
        let byName = Dictionary(inputs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, sample) in samples.enumerated() {
            for name in sample.keys.sorted() where byName[name] == nil {
                throw KilnError(
                    .badCalibrationData,
                    "sample \(index): the model has no input '\(name)'; its inputs are \(required.map { "'\($0)'" }.joined(separator: ", "))"
                )
            }
            for name in required where sample[name] == nil {
                throw KilnError(.badCalibrationData, "sample \(index): input '\(name)' is missing")
            }
            for (name, tensor) in sample.sorted(by: { $0.key < $1.key }) {
                guard let value = byName[name] else { continue }
                try check(tensor, against: value, sample: index)
            }
        }
    }

    private static func check(_ tensor: Tensor, against value: Value, sample: Int) throws {
        if let dtype = value.type.dtype, dtype != tensor.dtype {
            throw KilnError(
                .badCalibrationData,
                "sample \(sample): input '\(value.name)' must be \(dtype), got \(tensor.dtype) (convert it, e.g. `.astype(np.\(dtype))`)"
            )
        }
        if let shape = value.type.shape {
            let matches =
                shape.count == tensor.rank
                && zip(shape, tensor.shape).allSatisfy { dim, actual in dim.value.map { $0 == actual } ?? true }
            guard matches else {
                throw KilnError(
                    .badCalibrationData,
                    "sample \(sample): input '\(value.name)' must have shape \(value.type), got \(tensor.shape)")
            }
        }
        if let bad = firstNonFinite(tensor) {
            throw KilnError(
                .nonFiniteCalibrationData,
                "sample \(sample): input '\(value.name)' holds \(bad.value) at element \(bad.index)")
        }
    }

    /// The first NaN or infinity of a floating-point tensor, if any.
    static func firstNonFinite(_ tensor: Tensor) -> (index: Int, value: Double)? {
        switch tensor.dtype {
        case .float32:
            return tensor.withUnsafeBufferPointer(as: Float.self) { buffer in
                buffer.firstIndex { !$0.isFinite }.map { ($0, Double(buffer[$0])) }
            }
        case .float64, .float16:
            let values = tensor.doubleScalars()
            return values.firstIndex { !$0.isFinite }.map { ($0, values[$0]) }
        default:
            return nil
        }
    }

    /// The samples the calibration and the report use: the first `limit`, or all.
    func prefix(_ limit: Int?) -> CalibrationSet {
        guard let limit, limit < samples.count else { return self }
        var copy = self
        copy.samples = Array(samples.prefix(max(1, limit)))
        return copy
    }
}
