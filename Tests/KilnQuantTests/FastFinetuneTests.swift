import Foundation
import KilnCore
import KilnIR
import KilnQuant
import KilnTestSupport
import Testing

@Suite struct FastFinetuneTests {
    /// `conv 3×3 (grouped, 2 groups) → relu → gemm-like 1×1 conv`.
    static func graph() throws -> Graph {
        try QuantTesting.graph { builder in
            builder.input("x", .float32, [1, 4, 8, 8])
            builder.initializer("w1", QuantTesting.random([6, 2, 3, 3], seed: 11, scale: 0.4))
            builder.initializer("b1", QuantTesting.random([6], seed: 12, scale: 0.1))
            builder.initializer("w2", QuantTesting.random([3, 6, 1, 1], seed: 13, scale: 0.5))
            builder.node(
                "Conv", ["x", "w1", "b1"], ["c"], name: "conv1",
                attributes: ["group": .int(2), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])])
            builder.node("Relu", ["c"], ["r"], name: "relu")
            builder.node("Conv", ["r", "w2"], ["y"], name: "conv2")
            builder.output("y", .float32, [1, 3, 4, 4])
        }
    }

    @Test func keepsWeightsOnTheGridAndNeverIncreasesLayerError() throws {
        let graph = try Self.graph()
        let plan = QuantTesting.weightPlan(graph)
        let samples = QuantTesting.samples(8, input: "x", shape: [1, 4, 8, 8], seed: 60)
        let (finetuned, results) = try FastFinetune.apply(graph, plan: plan, samples: samples, threads: 1)
        for result in results {
            print(String(format: "%@: error %.5g -> %.5g", result.layer, result.errorBefore, result.errorAfter))
        }
        #expect(results.map(\.layer) == ["conv1", "conv2"])
        #expect(results.allSatisfy { $0.errorAfter <= $0.errorBefore })
        #expect(finetuned.nodes.map(\.op) == graph.nodes.map(\.op))
        for name in ["w1", "w2"] {
            let position = try #require(plan.tensors[name]?.fixPosition)
            let weights = try #require(finetuned.valueID(named: name).flatMap { finetuned.initializers[$0] })
            for value in weights.scalars(as: Float.self) {
                let level = Double(value) * exp2(Double(position))
                #expect(level == level.rounded() && Swift.abs(level) <= 127, "\(name): \(value) is off the grid")
            }
        }
        let held = QuantTesting.samples(8, input: "x", shape: [1, 4, 8, 8], seed: 61)
        let before = try QuantTesting.sqnr(
            reference: graph, quantized: QuantTesting.weightQuantized(graph, plan), samples: held)
        let after = try QuantTesting.sqnr(
            reference: graph, quantized: QuantTesting.weightQuantized(finetuned, plan), samples: held)
        print(String(format: "held-out SQNR %.2f -> %.2f dB", before, after))
        #expect(after >= before)
    }

    @Test func withoutSamplesChangesNothing() throws {
        let graph = try Self.graph()
        let (finetuned, results) = try FastFinetune.apply(
            graph, plan: QuantTesting.weightPlan(graph), samples: [], threads: 1)
        #expect(finetuned == graph && results.isEmpty)
    }
}

extension FastFinetuneTests {
    /// Float scales per output channel (`max |w| / 127`, the float scheme's rule): after
    /// finetuning, the scales derived again from the weights are the same, bit for bit, and
    /// every weight sits on its channel's grid.
    @Test func floatScalesSurviveBeingDerivedAgain() throws {
        let graph = try Self.graph()
        func perChannel(_ tensor: Tensor) -> TensorQuantization {
            let values = tensor.scalars(as: Float.self)
            let inner = values.count / tensor.shape[0]
            let scales = (0..<tensor.shape[0]).map { channel in
                Float(Double(values[(channel * inner)..<((channel + 1) * inner)].map(Swift.abs).max() ?? 0) / 127)
            }
            var quantization = TensorQuantization.fixPosition(0, roundMode: .halfToEven)
            quantization.fixPosition = nil
            (quantization.scales, quantization.zeroPoints, quantization.axis) = (scales, scales.map { _ in 0 }, 0)
            return quantization
        }
        var plan = QuantizationPlan(scale: .float, target: nil, method: .minmax, calibrationSamples: 0)
        for name in ["w1", "w2"] {
            plan.tensors[name] = perChannel(try #require(graph.valueID(named: name).flatMap { graph.initializers[$0] }))
        }
        let samples = QuantTesting.samples(8, input: "x", shape: [1, 4, 8, 8], seed: 60)
        let (finetuned, results) = try FastFinetune.apply(graph, plan: plan, samples: samples, threads: 1)
        #expect(results.allSatisfy { $0.errorAfter <= $0.errorBefore })
        for name in ["w1", "w2"] {
            let weights = try #require(finetuned.valueID(named: name).flatMap { finetuned.initializers[$0] })
            let original = try #require(graph.valueID(named: name).flatMap { graph.initializers[$0] })
            let planned = try #require(plan.tensors[name])
            #expect(perChannel(weights).scales == planned.scales, "\(name): scales moved")
            #expect(weights != original, "\(name): nothing was finetuned")
            let inner = weights.count / weights.shape[0]
            for (index, value) in weights.scalars(as: Float.self).enumerated() {
                let level = value / planned.scales[index / inner]
                #expect(Swift.abs(level - level.rounded()) < 1e-3 && Swift.abs(level) <= 127.001, "\(name)[\(index)]")
            }
        }
    }
}
