import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnTestSupport
import Synchronization
import Testing

@testable import KilnQuant

/// QuantSim computes each DPU layer with the DPU's integer pipeline: checked on hand-made
/// graphs and plans whose results are worked out by hand.
@Suite struct QuantSimTests {
    /// A single 2-D convolution `y = conv(x, w, b)`.
    static func convolution(input: [Int], weight: [Int], withBias: Bool) throws -> Graph {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, input.map { .known($0) })
        builder.initializer("w", Tensor(zeros: weight, dtype: .float32))
        if withBias { builder.initializer("b", Tensor(zeros: [weight[0]], dtype: .float32)) }
        builder.node("Conv", withBias ? ["x", "w", "b"] : ["x", "w"], ["y"], name: "conv")
        let outputShape = [input[0], weight[0], input[2] - weight[2] + 1, input[3] - weight[3] + 1]
        builder.output("y", .float32, outputShape.map { .known($0) })
        return try QuantTestData.graph(builder)
    }

    /// `graph` with initializer `name` replaced by `values`.
    static func setting(_ graph: Graph, _ name: String, _ values: [Float]) -> Graph {
        var graph = graph
        guard let id = graph.valueID(named: name), let old = graph.initializers[id] else { return graph }
        graph.initializers[id] = Tensor(shape: old.shape, scalars: values)
        return graph
    }

    static func model(_ graph: Graph, positions: [String: Int], layers: [LayerQuantization]) -> QuantizedModel {
        var plan = QuantizationPlan(scale: .pow2, target: nil, method: .minmax, calibrationSamples: 0)
        for (name, position) in positions {
            let isParameter = graph.valueID(named: name).map { graph.initializers[$0] != nil } ?? false
            plan.tensors[name] = .fixPosition(position, roundMode: isParameter ? .halfAwayFromZero : .halfUp)
        }
        plan.layers = layers
        return QuantizedModel(graph: graph, plan: plan, report: QuantReport(samples: 0, layers: [], outputs: []))
    }

    static func integers(_ tensor: Tensor?, position: Int) -> [Int] {
        (tensor?.scalars(as: Float.self) ?? []).map { Int($0 * Float(1 << position)) }
    }

    /// A 3×3 input, 2×2 kernel, bias: accumulators 7, 9, 13, 15; aligned bias ⌊2·3·2^1⌋ = 12;
    /// (2·acc + 12) / 2^(3+1) = 1.625, 1.875, 2.375, 2.625 → 2, 2, 2, 3.
    @Test func convolutionMatchesTheHandComputedIntegers() throws {
        var graph = try Self.convolution(input: [1, 1, 3, 3], weight: [1, 1, 2, 2], withBias: true)
        graph = Self.setting(graph, "w", [1, -1, 2, 0].map { Float($0) / 8 })  // position 3
        graph = Self.setting(graph, "b", [3.0 / 16])  // position 4
        let model = Self.model(
            graph, positions: ["x": 2, "w": 3, "b": 4, "y": 2],
            layers: [
                LayerQuantization(
                    name: "conv", kind: .conv, nodes: ["conv"], inputs: ["x"], weight: "w", bias: "b", output: "y")
            ])
        let x = Tensor(shape: [1, 1, 3, 3], scalars: (1...9).map { Float($0) / 4 })  // position 2
        let y = try QuantSim.run(model, inputs: ["x": x], threads: 1)["y"]
        #expect(Self.integers(y, position: 2) == [2, 2, 2, 3])
    }

    /// Ties round half up (−2.5 → −2, 2.5 → 3) and results saturate to int8.
    @Test func convolutionRoundsTiesUpAndSaturates() throws {
        let x = Tensor(shape: [1, 1, 1, 4], scalars: [-5, 5, 127, -128] as [Float])
        let base = try Self.convolution(input: [1, 1, 1, 4], weight: [1, 1, 1, 1], withBias: false)
        let layer = LayerQuantization(
            name: "conv", kind: .conv, nodes: ["conv"], inputs: ["x"], weight: "w", output: "y")
        // w = 1 at position 1: x · 0.5 → −2.5, 2.5, 63.5, −64.
        let halving = Self.model(Self.setting(base, "w", [0.5]), positions: ["x": 0, "w": 1, "y": 0], layers: [layer])
        #expect(
            Self.integers(try QuantSim.run(halving, inputs: ["x": x], threads: 1)["y"], position: 0) == [
                -2, 3, 64, -64,
            ])
        // w = 127 at position 0: saturates.
        let large = Self.model(Self.setting(base, "w", [127]), positions: ["x": 0, "w": 0, "y": 0], layers: [layer])
        #expect(
            Self.integers(try QuantSim.run(large, inputs: ["x": x], threads: 1)["y"], position: 0) == [
                -128, 127, 127, -128,
            ])
    }

    /// A convolution with more than 2^10 products per output (computed in float64) is exact:
    /// 128 channels × 3×3 of extreme int8 values, checked against an integer sum.
    @Test func wideConvolutionIsExact() throws {
        var generator = QuantTestData.Generator(seed: 11)
        let xq = (0..<(128 * 9)).map { _ in Int(generator.uniform() * 256) - 128 }
        let wq = (0..<(128 * 9)).map { _ in Int(generator.uniform() * 256) - 128 }
        var graph = try Self.convolution(input: [1, 128, 3, 3], weight: [1, 128, 3, 3], withBias: false)
        graph = Self.setting(graph, "w", wq.map { Float($0) / 2 })  // position 1
        let model = Self.model(
            graph, positions: ["x": 0, "w": 1, "y": -10],
            layers: [
                LayerQuantization(name: "conv", kind: .conv, nodes: ["conv"], inputs: ["x"], weight: "w", output: "y")
            ])
        let x = Tensor(shape: [1, 128, 3, 3], scalars: xq.map(Float.init))
        let y = try QuantSim.run(model, inputs: ["x": x], threads: 1)["y"]
        let accumulator = zip(xq, wq).reduce(Int64(0)) { $0 + Int64($1.0 * $1.1) }
        let expected = FixedPoint.convolution(
            accumulator: accumulator, bias: nil, shiftBias: 0, shiftCut: 11, activation: nil, outputPosition: -10)
        #expect(Self.integers(y, position: 0).map { $0 >> 10 } == [expected])
        #expect(y?.scalars(as: Float.self) == [Float(expected) * 1024])
    }

    /// Global average pooling over 3×3 multiplies the sum by 7/64: 9 · 64 · 7/64 = 63, not 64.
    @Test func averagePoolUsesTheDPUMultiplier() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 1, 3, 3])
        builder.node("GlobalAveragePool", ["x"], ["y"], name: "pool")
        builder.output("y", .float32, [1, 1, 1, 1])
        let graph = try QuantTestData.graph(builder)
        let model = Self.model(
            graph, positions: ["x": 4, "y": 4],
            layers: [LayerQuantization(name: "pool", kind: .averagePool, nodes: ["pool"], inputs: ["x"], output: "y")])
        let y = try QuantSim.run(
            model, inputs: ["x": Tensor(shape: [1, 1, 3, 3], scalars: [Float](repeating: 4, count: 9))], threads: 1)
        #expect(Self.integers(y["y"], position: 4) == [63])
    }

    /// Hard sigmoid with 2731/2^14: x = 0, 1, 3, −3 → 64, 85, 127 (saturated), 0 at position 7.
    @Test func hardSigmoidUsesTheDPUConstant() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [4])
        builder.node(
            "HardSigmoid", ["x"], ["y"], name: "hsig", attributes: ["alpha": .float(1.0 / 6), "beta": .float(0.5)])
        builder.output("y", .float32, [4])
        let graph = try QuantTestData.graph(builder)
        let model = Self.model(
            graph, positions: ["x": 4, "y": 7],
            layers: [LayerQuantization(name: "hsig", kind: .hardSigmoid, nodes: ["hsig"], inputs: ["x"], output: "y")])
        let y = try QuantSim.run(
            model, inputs: ["x": Tensor(shape: [4], scalars: [0, 1, 3, -3] as [Float])], threads: 1)
        #expect(Self.integers(y["y"], position: 7) == [64, 85, 127, 0])
    }

    /// On a quantized reference model every planned tensor the simulation computes is an
    /// int8 multiple of 2^-p.
    @Test func simulatedTensorsLieOnTheirGrids() throws {
        guard let entry = ReferenceModels.manifest.first(where: { $0.name == "mobilenetv2_tiny" }),
            let template = try entry.inputSets().first?.inputs
        else { return }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let set = try CalibrationSet(samples: QuantTestData.samples(like: template, count: 4, seed: 9), for: graph)
        let model = try Quantizer.quantize(graph, calibration: set, config: QuantizationConfig())
        let program = try SimulationProgram(graph: model.graph, plan: model.plan)
        let offGrid = Mutex<[String]>([])
        let plan = model.plan
        _ = try program.run(set.samples[0], threads: 1) { name, tensor in
            guard let position = plan.tensors[name]?.fixPosition else { return }
            let scale = exp2(Double(position))
            let onGrid = tensor.doubleScalars().allSatisfy { value in
                let q = value * scale
                return q == q.rounded() && q >= -128 && q <= 127
            }
            if !onGrid { offGrid.withLock { $0.append(name) } }
        }
        #expect(offGrid.withLock { $0 }.isEmpty)
        #expect(!model.plan.layers.isEmpty)
    }
}
