import Foundation
import KilnCore

/// How much each quantized tensor and each model output lose to quantization: the SQNR
/// between the float model and the fake-quant simulation over calibration samples.
///
/// SQNR is `10 · log10(Σ x² / Σ (x − x̃)²)` in dB, summed over the elements of every measured
/// sample (`x` float, `x̃` simulated). Layer SQNRs compare each tensor within one simulated
/// run, so error accumulates along the graph and a sharp drop shows the layer that hurts.
/// `nil` means no error at all.
///
/// Print ``text`` for people, encode it with `JSONEncoder` for `--json`, and write
/// ``svgChart()`` for a bar chart.
public struct QuantReport: Codable, Sendable, Equatable {
    /// One quantized tensor.
    public struct Layer: Codable, Sendable, Equatable {
        /// The layer (node) name.
        public var name: String
        /// What computes it, e.g. `conv+relu`, `add`, `concat`.
        public var op: String
        /// The tensor (value) name.
        public var tensor: String
        /// `fix 5` or `scale 0.0123`.
        public var quantization: String
        /// SQNR in dB; `nil` when the simulation is exact.
        public var sqnrDB: Double?

        /// Creates a row.
        public init(name: String, op: String, tensor: String, quantization: String, sqnrDB: Double?) {
            self.name = name
            self.op = op
            self.tensor = tensor
            self.quantization = quantization
            self.sqnrDB = sqnrDB
        }

        enum CodingKeys: String, CodingKey {
            case name, op, tensor, quantization
            case sqnrDB = "sqnr_db"
        }
    }

    /// One graph output.
    public struct Output: Codable, Sendable, Equatable {
        /// The output name.
        public var name: String
        /// SQNR in dB against the float model; `nil` when exact.
        public var sqnrDB: Double?

        /// Creates a row.
        public init(name: String, sqnrDB: Double?) {
            self.name = name
            self.sqnrDB = sqnrDB
        }

        enum CodingKeys: String, CodingKey {
            case name
            case sqnrDB = "sqnr_db"
        }
    }

    /// Samples measured.
    public var samples: Int
    /// Quantized tensors in graph order.
    public var layers: [Layer]
    /// Graph outputs in order.
    public var outputs: [Output]
    /// The whole model's output SQNR: that of its worst output (`nil` when every output is exact).
    public var modelSQNR: Double?
    /// Things the user should know (e.g. a LeakyReLU slope the DPU changed).
    public var warnings: [String]

    /// Creates a report.
    public init(samples: Int, layers: [Layer], outputs: [Output], warnings: [String] = []) {
        self.samples = samples
        self.layers = layers
        self.outputs = outputs
        self.warnings = warnings
        let measured = outputs.compactMap(\.sqnrDB)
        modelSQNR = measured.min()
    }

    enum CodingKeys: String, CodingKey {
        case samples, layers, outputs
        case modelSQNR = "model_sqnr_db"
        case warnings
    }

    /// A text table: one line per layer, then the outputs and warnings.
    public var text: String {
        let nameWidth = min(40, max(5, layers.map(\.name.count).max() ?? 5))
        let opWidth = min(20, max(2, layers.map(\.op.count).max() ?? 2))
        let quantWidth = max(5, layers.map(\.quantization.count).max() ?? 5)
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count)
        }
        var lines = ["\(pad("layer", nameWidth))  \(pad("op", opWidth))  \(pad("quant", quantWidth))  SQNR (dB)"]
        for layer in layers {
            lines.append(
                "\(pad(layer.name, nameWidth))  \(pad(layer.op, opWidth))  \(pad(layer.quantization, quantWidth))  "
                    + Self.format(layer.sqnrDB))
        }
        lines.append("")
        for output in outputs { lines.append("output '\(output.name)': \(Self.format(output.sqnrDB)) dB") }
        lines.append("model output SQNR (worst output, \(samples) samples): \(Self.format(modelSQNR)) dB")
        for warning in warnings { lines.append("warning: \(warning)") }
        return lines.joined(separator: "\n")
    }

    /// An SQNR as the report prints it: `31.42`, or `exact` for no error.
    public static func format(_ sqnr: Double?) -> String {
        guard let sqnr else { return "exact" }
        return String(format: "%.2f", sqnr)
    }
}

/// Sums signal and noise energy of one tensor across samples.
struct SQNRAccumulator: Sendable {
    private(set) var signal = 0.0
    private(set) var noise = 0.0

    /// Adds one sample (`reference` float, `test` simulated; shapes must agree).
    mutating func add(reference: Tensor, test: Tensor) {
        guard reference.shape == test.shape else {
            noise = .infinity
            return
        }
        let x = reference.doubleScalars()
        let y = test.doubleScalars()
        for index in x.indices where x[index].isFinite && y[index].isFinite {
            signal += x[index] * x[index]
            let difference = x[index] - y[index]
            noise += difference * difference
        }
    }

    /// SQNR in dB (`nil` for no noise; −200 dB floor for a zero signal).
    var decibels: Double? {
        guard noise > 0 else { return nil }
        guard noise.isFinite else { return -200 }
        return max(-200, 10 * log10(signal / noise))
    }
}
