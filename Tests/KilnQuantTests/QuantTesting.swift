import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnQuant
import KilnTestSupport

/// What the quantizer tests share: small models, deterministic samples, and — until the
/// core's `Quantizer` and `QuantSim` land — a weights-only power-of-two plan and its float
/// simulation (activations stay float), written here independently of the tools.
enum QuantTesting {
    /// Imports the model `build` describes.
    static func graph(opset: Int = 13, _ build: (inout ONNXModelBuilder) -> Void) throws -> Graph {
        var builder = ONNXModelBuilder(opset: opset)
        build(&builder)
        return try ONNXImporter.importModel(data: try builder.serialized(), directory: nil).graph
    }

    /// Deterministic values in `[-scale, scale)`.
    static func random(_ shape: [Int], seed: UInt64 = 1, scale: Float = 1) -> Tensor {
        TestTensors.uniform(shape, seed: seed, scale: scale)
    }

    /// `count` feed dicts of unit-variance uniform values for `input`.
    static func samples(_ count: Int, input: String, shape: [Int], seed: UInt64) -> [[String: Tensor]] {
        (0..<count).map { [input: random(shape, seed: seed &+ UInt64($0) &* 7919, scale: Float(3).squareRoot())] }
    }

    /// A plan quantizing every Conv/Gemm weight per tensor at the power-of-two fix
    /// position that fits its range (`max |w| · 2^p ≤ 127`), rounding half away from zero
    /// (vai_q_pytorch's weight rounding); nothing else is planned.
    static func weightPlan(_ graph: Graph) -> QuantizationPlan {
        var plan = QuantizationPlan(scale: .pow2, target: nil, method: .minmax, calibrationSamples: 0)
        for node in graph.nodes where node.op == .conv || node.op == .gemm {
            guard let id = node.input(1), let weight = graph.initializers[id] else { continue }
            let largest = weight.doubleScalars().map(Swift.abs).max() ?? 0
            let position = largest > 0 ? Int((log2(127 / largest)).rounded(.down)) : 0
            plan.tensors[graph[id].name] = .fixPosition(position, roundMode: .halfAwayFromZero)
        }
        return plan
    }

    /// `graph` with its planned initializers quantized and dequantized by ``FixedPoint``.
    static func weightQuantized(_ graph: Graph, _ plan: QuantizationPlan) -> Graph {
        var result = graph
        for (id, tensor) in graph.initializers {
            guard let quantization = plan.tensors[graph[id].name], let position = quantization.fixPosition else {
                continue
            }
            let values = tensor.scalars(as: Float.self).map { value in
                FixedPoint.dequantize(
                    FixedPoint.quantize(value, fixPosition: position, mode: quantization.roundMode),
                    fixPosition: position)
            }
            result.initializers[id] = Tensor(shape: tensor.shape, scalars: values)
        }
        return result
    }

    /// Output SQNR in dB, `10 log10(Σ y² / Σ (y − ŷ)²)` over every output and sample.
    static func sqnr(reference: Graph, quantized: Graph, samples: [[String: Tensor]]) throws -> Double {
        let float = try Interpreter(graph: reference)
        let fake = try Interpreter(graph: quantized)
        var (signal, noise) = (0.0, 0.0)
        for sample in samples {
            let expected = try float.run(sample)
            let actual = try fake.run(sample)
            for (name, tensor) in expected {
                guard let other = actual[name] else { return -.infinity }
                for (y, q) in zip(tensor.doubleScalars(), other.doubleScalars()) {
                    signal += y * y
                    noise += (y - q) * (y - q)
                }
            }
        }
        return 10 * log10(signal / max(noise, 1e-300))
    }

    /// `max |a − b| / range(b)` over every output of the two graphs on `inputs`.
    static func relativeDifference(_ before: Graph, _ after: Graph, inputs: [String: Tensor]) throws -> Double {
        let expected = try Interpreter(graph: before).run(inputs)
        let actual = try Interpreter(graph: after).run(inputs)
        var worst = 0.0
        for (name, reference) in expected {
            guard let tensor = actual[name] else { return .infinity }
            let e = reference.doubleScalars()
            let range = max((e.max() ?? 0) - (e.min() ?? 0), 1e-12)
            let difference = zip(tensor.doubleScalars(), e).map { Swift.abs($0 - $1) }.max() ?? 0
            worst = max(worst, difference / range)
        }
        return worst
    }
}
