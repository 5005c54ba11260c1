import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnQuant
import KilnTestSupport
import Testing

/// The DPU scheme's decisions: fusion, round modes, alignment, shift adjustments, the
/// LeakyReLU slope.
@Suite struct DPUSchemeTests {
    /// `x [1, 2, 8, 8]` → conv 3×3 (2→4, pads 1) with weights `weight` and bias `bias` → `then`.
    static func convolution(
        weight: Float, bias: Float, then activation: (op: String, attributes: [String: ONNXModelBuilder.AttributeSpec])?
    ) throws -> Graph {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 2, 8, 8])
        var generator = QuantTestData.Generator(seed: 3)
        builder.initializer("w", generator.normalTensor([4, 2, 3, 3], scale: Double(weight)))
        builder.initializer("b", Tensor(shape: [4], scalars: [Float](repeating: bias, count: 4)))
        builder.node("Conv", ["x", "w", "b"], ["c"], name: "conv", attributes: ["pads": .ints([1, 1, 1, 1])])
        if let activation {
            builder.node(activation.op, ["c"], ["y"], name: "act", attributes: activation.attributes)
        } else {
            builder.node("Identity", ["c"], ["y"], name: "act")
        }
        builder.output("y", .float32, [1, 4, 8, 8])
        return try QuantTestData.graph(builder)
    }

    static func quantize(_ graph: Graph, method: CalibrationMethod = .minmax, samples: Int = 4) throws -> QuantizedModel
    {
        let inputs = graph.inputs.map { graph[$0] }
        let template = Dictionary(
            uniqueKeysWithValues: inputs.map { ($0.name, Tensor(zeros: $0.type.staticShape ?? [], dtype: .float32)) })
        let set = try CalibrationSet(
            samples: QuantTestData.samples(like: template, count: samples, seed: 5), for: graph)
        var config = QuantizationConfig()
        config.method = method
        return try Quantizer.quantize(graph, calibration: set, config: config)
    }

    @Test func convolutionFusesItsActivation() throws {
        let model = try Self.quantize(try Self.convolution(weight: 0.3, bias: 0.1, then: ("Relu", [:])))
        let plan = model.plan
        #expect(plan.layers.count == 1)
        let layer = try #require(plan.layers.first)
        #expect(layer.kind == .conv && layer.activation == .relu && layer.nodes == ["conv", "act"])
        #expect(layer.inputs == ["x"] && layer.weight == "w" && layer.bias == "b" && layer.output == "y")
        #expect(plan.tensors["c"] == nil, "the conv result before the fused ReLU is not quantized")
        #expect(plan.tensors["y"]?.roundMode == .halfUp)
        #expect(plan.tensors["x"]?.roundMode == .halfAwayFromZero)
        #expect(plan.tensors["w"]?.roundMode == .halfAwayFromZero && plan.tensors["b"]?.roundMode == .halfAwayFromZero)
        #expect(plan.tensors.values.allSatisfy { $0.fixPosition != nil && $0.bitWidth == 8 && $0.dtype == .int8 })
        let shifts = layer.shifts
        #expect(
            shifts["shift_cut"] == plan.tensors["x"]!.fixPosition! + plan.tensors["w"]!.fixPosition! - plan.tensors[
                "y"]!.fixPosition!)
        print(model.report.text)
    }

    /// Tiny weights and a large bias put shift_cut far above 16: the weight position moves.
    @Test func shiftCutIsKeptInRange() throws {
        let model = try Self.quantize(try Self.convolution(weight: 1e-5, bias: 1, then: nil))
        let layer = try #require(model.plan.layers.first)
        #expect(layer.shifts["shift_cut"] == 16)
        #expect(
            model.plan.adjustments.contains { $0.contains("shift_cut") && $0.contains("'w'") },
            "\(model.plan.adjustments)")
        #expect(model.plan.tensors["w"]?.note != nil)
    }

    @Test func leakyReluTakesTheDPUSlopeWithAWarning() throws {
        let other = try Self.quantize(
            try Self.convolution(weight: 0.3, bias: 0, then: ("LeakyRelu", ["alpha": .float(0.1)])))
        #expect(other.report.warnings.count == 1 && other.report.warnings[0].contains("LeakyReLU"))
        let leaky = try #require(other.graph.nodes.first { $0.op == .leakyRelu })
        #expect(try leaky.attributes.float("alpha", default: 0) == 0.1015625)
        #expect(other.plan.layers.first?.activation == .leakyRelu)

        let dpuSlope = try Self.quantize(
            try Self.convolution(weight: 0.3, bias: 0, then: ("LeakyRelu", ["alpha": .float(0.1015625)])))
        #expect(dpuSlope.report.warnings.isEmpty)
    }

    /// Two convolutions of different ranges into a concat: all three share the smaller position.
    @Test func concatInputsShareTheOutputPosition() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 2, 8, 8])
        var generator = QuantTestData.Generator(seed: 6)
        builder.initializer("wa", generator.normalTensor([4, 2, 1, 1], scale: 0.05))
        builder.initializer("wb", generator.normalTensor([4, 2, 1, 1], scale: 2))
        builder.node("Conv", ["x", "wa"], ["a"], name: "conv_a")
        builder.node("Conv", ["x", "wb"], ["b"], name: "conv_b")
        builder.node("Concat", ["a", "b"], ["y"], name: "concat", attributes: ["axis": .int(1)])
        builder.output("y", .float32, [1, 8, 8, 8])
        let plan = try Self.quantize(try QuantTestData.graph(builder)).plan
        let positions = ["a", "b", "y"].compactMap { plan.tensors[$0]?.fixPosition }
        #expect(positions.count == 3 && Set(positions).count == 1, "\(positions)")
        #expect(plan.tensors["a"]?.note?.contains("shares") == true)
    }

    /// On every reference CNN, every shift the plan records is in the DPU's range.
    @Test(arguments: ReferenceModels.manifest.filter { QuantizerAccuracyTests.cnns.contains($0.name) })
    func referenceModelShiftsAreInRange(_ entry: ReferenceModels.Entry) throws {
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let model = try Self.quantize(graph)
        let plan = model.plan
        func position(_ name: String) -> Int? { plan.tensors[name]?.fixPosition }
        for layer in plan.layers {
            let s = layer.shifts
            switch layer.kind {
            case .conv, .gemm:
                let cut = try #require(s["shift_cut"])
                #expect((0...16).contains(cut), "\(layer.name): shift_cut \(cut)")
                if let bias = s["shift_bias"] {
                    let low = layer.activation == .leakyRelu ? 0 : min(0, -(24 - (8 + cut)))
                    #expect((low...15).contains(bias), "\(layer.name): shift_bias \(bias)")
                }
            case .add:
                #expect(
                    s.filter { $0.key.hasPrefix("shift_read") }.values.allSatisfy { (0...7).contains($0) },
                    "\(layer.name): \(s)")
                #expect((-7...25).contains(s["shift_write"] ?? 99), "\(layer.name): \(s)")
            case .mul:
                #expect((0...32).contains(s["shift_write"] ?? 99), "\(layer.name): \(s)")
            case .hardSigmoid, .hardSwish:
                #expect((0...15).contains(s["hsigmoid_in"] ?? 99), "\(layer.name): \(s)")
                if layer.kind == .hardSigmoid { #expect((position(layer.output) ?? 0) >= 7) }
                if layer.kind == .hardSwish {
                    #expect((0...15).contains(s["shift_hswish"] ?? 99), "\(layer.name): \(s)")
                }
            case .averagePool:
                #expect(
                    position(layer.inputs[0]) == position(layer.output), "\(layer.name): pool input and output aligned")
            case .activation:
                break
            }
            if layer.activation == .relu6 { #expect((position(layer.output) ?? 0) >= 4) }
        }
        for node in model.graph.nodes where node.op == .concat {
            let names = (node.inputs + node.outputs).compactMap { $0.map { model.graph[$0].name } }
            #expect(Set(names.compactMap(position)).count <= 1, "\(entry.name): concat '\(node.name)' positions differ")
        }
        print("[scheme] \(entry.name): \(plan.layers.count) layers, \(plan.adjustments.count) adjustments")
        for line in plan.adjustments { print("  \(line)") }
    }
}
