import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnQuant
import KilnTestSupport

/// Deterministic test data for the quantizer tests.
enum QuantTestData {
    /// A seeded generator (SplitMix64): the same numbers on every platform.
    struct Generator {
        private var state: UInt64

        init(seed: UInt64) { state = seed }

        /// Uniform in [0, 1).
        mutating func uniform() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z >> 11) / Double(1 << 53)
        }

        /// Standard normal (Box–Muller).
        mutating func normal() -> Double {
            let u = max(uniform(), 1e-300)
            let v = uniform()
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
        }

        /// A float32 tensor of standard normals times `scale`.
        mutating func normalTensor(_ shape: [Int], scale: Double = 1) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float(normal() * scale) })
        }
    }

    /// `count` samples shaped like `template`: float inputs drawn standard normal, others copied.
    static func samples(like template: [String: Tensor], count: Int, seed: UInt64) -> [[String: Tensor]] {
        var generator = Generator(seed: seed)
        return (0..<count).map { _ in
            template.mapValues { tensor in
                tensor.dtype == .float32 ? generator.normalTensor(tensor.shape) : tensor
            }
        }
    }

    /// Imports a model built with ``ONNXModelBuilder``.
    static func graph(_ builder: ONNXModelBuilder) throws -> Graph {
        try ONNXImporter.importModel(data: try builder.serialized(), directory: nil).graph
    }
}
