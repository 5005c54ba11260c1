import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnQuant
import KilnTestSupport
import Testing

/// The float scheme's choices of what to quantize and with which range, as onnxruntime's
/// static QDQ quantizer makes them.
@Suite struct FloatSchemeTests {
    static func quantize(_ graph: Graph, symmetric: Bool) throws -> QuantizationPlan {
        try model(graph, symmetric: symmetric).plan
    }

    static func model(_ graph: Graph, symmetric: Bool) throws -> QuantizedModel {
        let inputs = graph.inputs.map { graph[$0] }
        let template = Dictionary(
            uniqueKeysWithValues: inputs.map { ($0.name, Tensor(zeros: $0.type.staticShape ?? [], dtype: .float32)) })
        let set = try CalibrationSet(samples: QuantTestData.samples(like: template, count: 4, seed: 11), for: graph)
        var config = QuantizationConfig()
        config.scale = .float
        config.symmetricActivations = symmetric
        return try Quantizer.quantize(graph, calibration: set, config: config)
    }

    /// A Relu that is a Conv's only reader lends the Conv's result its range: both share one
    /// quantization, the activation's (onnxruntime folds the Relu into the requantization).
    @Test(arguments: [true, false])
    func convolutionTakesItsActivationsRange(_ symmetric: Bool) throws {
        let graph = try DPUSchemeTests.convolution(weight: 0.3, bias: -0.5, then: ("Relu", [:]))
        let plan = try Self.quantize(graph, symmetric: symmetric)
        let conv = try #require(plan.tensors["c"])
        let relu = try #require(plan.tensors["y"])
        #expect(conv.scales == relu.scales && conv.zeroPoints == relu.zeroPoints)
        if !symmetric {
            // The range starts at 0: the zero point is the bottom of uint8, so negatives clip
            // exactly as the Relu would.
            #expect(relu.dtype == .uint8 && relu.zeroPoints == [0])
        }
    }

    /// A Conv whose result has a second reader keeps its own range.
    @Test func sharedResultKeepsItsOwnRange() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 2, 8, 8])
        var generator = QuantTestData.Generator(seed: 4)
        builder.initializer("w", generator.normalTensor([2, 2, 1, 1], scale: 0.5))
        builder.node("Conv", ["x", "w"], ["c"], name: "conv")
        builder.node("Relu", ["c"], ["r"], name: "relu")
        builder.node("Add", ["c", "r"], ["y"], name: "add")
        builder.output("y", .float32, [1, 2, 8, 8])
        let plan = try Self.quantize(try QuantTestData.graph(builder), symmetric: false)
        let conv = try #require(plan.tensors["c"])
        let relu = try #require(plan.tensors["r"])
        #expect(conv.zeroPoints != [0] && conv.scales != relu.scales)
    }

    /// A data-movement op only carries a quantization its input already has: the transposes
    /// after an LSTM stay float, the Gemm's input is quantized.
    @Test func dataMovementOfAFloatValueStaysFloat() throws {
        let entry = try #require(ReferenceModels.manifest.first { $0.name == "lstm_seq" })
        guard FileManager.default.fileExists(atPath: entry.modelURL.path) else { return }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let model = try Self.model(graph, symmetric: false)
        let (plan, canonical) = (model.plan, model.graph)
        let lstm = try #require(canonical.nodes.first { $0.op == .lstm })
        for case let output? in lstm.outputs {
            #expect(plan.tensors[canonical[output].name] == nil, "LSTM output \(canonical[output].name) quantized")
        }
        for node in canonical.nodes where node.op == .transpose {
            #expect(node.outputs.allSatisfy { $0.map { plan.tensors[canonical[$0].name] == nil } ?? true })
        }
        let gemm = try #require(canonical.nodes.first { $0.op == .gemm })
        let gemmInput = try #require(gemm.input(0))
        #expect(plan.tensors[canonical[gemmInput].name] != nil)
    }

    /// An element-wise op's constant operand is quantized like an activation: asymmetric
    /// activations give it a zero point and its whole [min, max] range.
    @Test func elementwiseConstantIsQuantizedLikeAnActivation() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 4])
        builder.initializer("k", Tensor(shape: [4], scalars: [Float(-0.1), 0.2, 0.3, 0.9]))
        builder.node("Add", ["x", "k"], ["y"], name: "add")
        builder.output("y", .float32, [1, 4])
        let graph = try QuantTestData.graph(builder)
        let asymmetric = try #require(try Self.quantize(graph, symmetric: false).tensors["k"])
        #expect(asymmetric.dtype == .uint8)
        #expect(abs(Double(asymmetric.scales[0]) - 1.0 / 255) < 1e-7)
        #expect(asymmetric.zeroPoints == [26])
        let symmetric = try #require(try Self.quantize(graph, symmetric: true).tensors["k"])
        #expect(symmetric.dtype == .int8 && symmetric.zeroPoints == [0])
        #expect(abs(Double(symmetric.scales[0]) - 0.9 / 127) < 1e-7)
    }
}
