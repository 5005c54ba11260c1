import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnPasses
import KilnQuant
import KilnTargets
import KilnTestSupport
import Testing

/// The float (CPU) scheme, the calibration methods end to end, options and the report.
@Suite struct QuantizerTests {
    static func resnet() throws -> (graph: Graph, set: CalibrationSet)? {
        guard let entry = ReferenceModels.manifest.first(where: { $0.name == "resnet_tiny" }),
            let template = try entry.inputSets().first?.inputs
        else { return nil }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        return (
            graph, try CalibrationSet(samples: QuantTestData.samples(like: template, count: 8, seed: 7), for: graph)
        )
    }

    @Test(arguments: [(true, false), (false, false), (true, true)])
    func floatSchemeQuantizesLikeOnnxruntime(_ symmetric: Bool, _ perChannel: Bool) throws {
        guard let (graph, set) = try Self.resnet() else { return }
        var config = QuantizationConfig()
        config.scale = .float
        config.symmetricActivations = symmetric
        config.perChannel = perChannel
        let model = try Quantizer.quantize(graph, calibration: set, config: config)
        let plan = model.plan
        #expect(plan.scale == .float && plan.layers.isEmpty)
        #expect(plan.tensors.values.allSatisfy { $0.fixPosition == nil && $0.roundMode == .halfToEven })
        let conv = try #require(model.graph.nodes.first { $0.op == .conv })
        let names = conv.inputs.compactMap { $0.map { model.graph[$0].name } }
        let (input, weight, bias) = (
            try #require(plan.tensors[names[0]]), try #require(plan.tensors[names[1]]),
            try #require(plan.tensors[names[2]])
        )
        #expect(input.dtype == (symmetric ? .int8 : .uint8))
        #expect(symmetric ? input.zeroPoints == [0] : true)
        #expect(weight.dtype == .int8 && weight.zeroPoints.allSatisfy { $0 == 0 })
        #expect(weight.scales.count == (perChannel ? 16 : 1))
        #expect(bias.dtype == .int32 && bias.bitWidth == 32)
        for (index, scale) in bias.scales.enumerated() {
            #expect(scale == weight.scales[index] * input.scales[0])
        }
        let sqnr = model.report.modelSQNR ?? .infinity
        print(
            "[accuracy] resnet_tiny float symmetric=\(symmetric) perChannel=\(perChannel): \(QuantReport.format(sqnr)) dB"
        )
        #expect(sqnr > 15)
    }

    /// Percentile and entropy run end to end (minmax and mse: see QuantizerAccuracyTests).
    @Test(arguments: [CalibrationMethod.percentile, .entropy])
    func everyMethodQuantizes(_ method: CalibrationMethod) throws {
        guard let (graph, set) = try Self.resnet() else { return }
        for scale in ScaleKind.allCases {
            var config = QuantizationConfig()
            config.method = method
            config.scale = scale
            let model = try Quantizer.quantize(graph, calibration: set, config: config)
            print("[accuracy] resnet_tiny \(scale) \(method): \(QuantReport.format(model.report.modelSQNR)) dB")
            #expect((model.report.modelSQNR ?? .infinity) > 15)
            #expect(model.plan.method == method)
        }
    }

    @Test func progressCountsCalibrationThenReportSamples() throws {
        guard let (graph, set) = try Self.resnet() else { return }
        var calls: [(Int, Int)] = []
        var config = QuantizationConfig()
        config.calibrationSize = 5
        let model = try Quantizer.quantize(graph, calibration: set, config: config) { calls.append(($0, $1)) }
        #expect(calls.map(\.0) == Array(1...10))
        #expect(calls.allSatisfy { $0.1 == 10 })
        #expect(model.plan.calibrationSamples == 5 && model.report.samples == 5)
    }

    @Test func contradictoryOptionsAndMissingToolsFailWithACode() throws {
        guard let (graph, set) = try Self.resnet() else { return }
        func code(_ change: (inout QuantizationConfig) -> Void) -> ErrorCode? {
            var config = QuantizationConfig()
            change(&config)
            return
                (#expect(throws: KilnError.self) { try Quantizer.quantize(graph, calibration: set, config: config) })?
                .code
        }
        #expect(code { $0.perChannel = true } == .invalidQuantizationConfig)
        #expect(code { $0.symmetricActivations = false } == .invalidQuantizationConfig)
        #expect(code { $0.percentile = 0 } == .invalidQuantizationConfig)
        #expect(code { $0.calibrationSize = 0 } == .invalidQuantizationConfig)
        let target = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
        #expect(
            code {
                $0.scale = .float
                $0.target = target
            } == .invalidQuantizationConfig)
        #expect(code { $0.crossLayerEqualization = true } == .quantizationToolUnavailable)
        #expect(code { $0.biasCorrection = true } == .quantizationToolUnavailable)
        #expect(code { $0.fastFinetune = true } == .quantizationToolUnavailable)
    }

    /// With a target, only the nodes the partitioner keeps on the DPU are quantized.
    @Test(arguments: ReferenceModels.manifest.filter { QuantizerAccuracyTests.cnns.contains($0.name) })
    func targetQuantizesThePartitionsDPUNodes(_ entry: ReferenceModels.Entry) throws {
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        guard let template = try entry.inputSets().first?.inputs else { return }
        let set = try CalibrationSet(samples: QuantTestData.samples(like: template, count: 4, seed: 8), for: graph)
        let target = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
        var config = QuantizationConfig()
        config.target = target
        let model = try Quantizer.quantize(graph, calibration: set, config: config)
        #expect(model.plan.target == "DPUCZDX8G_ISA1_B4096")
        let placements = try partition(model.graph, annotation: annotate(model.graph, for: target)).placements
        let onDPU = Set(model.graph.nodes.indices.filter { placements[$0].isDPU }.map { model.graph.nodes[$0].name })
        for layer in model.plan.layers {
            #expect(layer.nodes.allSatisfy(onDPU.contains), "\(entry.name): layer '\(layer.name)' is not on the DPU")
        }
        print(
            "[target] \(entry.name): \(model.plan.layers.count) DPU layers, output SQNR \(QuantReport.format(model.report.modelSQNR)) dB"
        )
        for warning in model.report.warnings { print("  warning: \(warning)") }
        #expect((model.report.modelSQNR ?? .infinity) > 15)
    }

    @Test func reportPrintsEncodesAndDraws() throws {
        guard let (graph, set) = try Self.resnet() else { return }
        let report = try Quantizer.quantize(graph, calibration: set, config: QuantizationConfig()).report
        #expect(report.layers.count >= 10)
        #expect(report.layers.allSatisfy { $0.sqnrDB != nil && $0.quantization.hasPrefix("fix ") })
        #expect(report.layers.contains { $0.op == "conv+relu" })
        #expect(report.outputs.map(\.name) == ["logits"] && report.modelSQNR == report.outputs[0].sqnrDB)
        let text = report.text
        #expect(text.hasPrefix("layer") && text.contains("model output SQNR"))
        let json = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(QuantReport.self, from: json) == report)
        #expect(String(decoding: json, as: UTF8.self).contains("\"model_sqnr_db\""))
        let svg = report.svgChart()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<rect x=").count - 1 == report.layers.count + report.outputs.count)
        print(text)
    }

    @Test func chartEscapesNamesAndMarksExactLayers() {
        let report = QuantReport(
            samples: 1,
            layers: [
                .init(name: "a<b>&\"c\"", op: "conv", tensor: "t", quantization: "fix 3", sqnrDB: 12),
                .init(name: "exact", op: "concat", tensor: "u", quantization: "fix 3", sqnrDB: nil),
            ],
            outputs: [.init(name: "y", sqnrDB: 35)])
        let svg = report.svgChart()
        #expect(svg.contains("a&lt;b&gt;&amp;&quot;c&quot;") && !svg.contains("a<b>"))
        #expect(svg.contains("#d62728") && svg.contains("#2ca02c") && svg.contains(">exact<"))
        #expect(report.modelSQNR == 35 && report.text.contains("exact"))
    }
}
