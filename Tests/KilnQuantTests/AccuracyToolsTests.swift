import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnPasses
import KilnQuant
import KilnTestSupport
import Testing

/// CLE, bias correction and fast finetune on `uneven_depthwise` (Scripts/make_models.py:
/// a depthwise conv whose channel ranges are 316× apart between a 1×1 conv and a 1×1
/// projection): weights quantized per tensor at power-of-two fix positions, activations
/// float, output SQNR on held-out samples before and after each tool.
@Suite struct AccuracyToolsTests {
    static let calibration = QuantTesting.samples(32, input: "input", shape: [1, 4, 16, 16], seed: 100)
    static let evaluation = QuantTesting.samples(16, input: "input", shape: [1, 4, 16, 16], seed: 900)

    static func unevenDepthwise() throws -> Graph? {
        guard let entry = ReferenceModels.manifest.first(where: { $0.name == "uneven_depthwise" }) else { return nil }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        return try PassManager(Pass.canonicalization).run(graph).0
    }

    /// SQNR (dB) of `graph` with its weights quantized by a fresh weights plan.
    static func sqnr(_ float: Graph, _ graph: Graph) throws -> Double {
        try QuantTesting.sqnr(
            reference: float, quantized: QuantTesting.weightQuantized(graph, QuantTesting.weightPlan(graph)),
            samples: evaluation)
    }

    @Test func eachToolImprovesSQNROnUnevenDepthwise() throws {
        let float = try #require(try Self.unevenDepthwise(), "run Scripts/make_models.py build-data/models")
        let baseline = try Self.sqnr(float, float)

        let (equalized, report) = try CrossLayerEqualization.apply(float)
        let withCLE = try Self.sqnr(float, equalized)

        let plan = QuantTesting.weightPlan(float)
        let (corrected, corrections) = try BiasCorrection.apply(
            float, plan: plan, samples: Self.calibration, threads: 1)
        let withBiasCorrection = try Self.sqnr(float, corrected)

        let (finetuned, results) = try FastFinetune.apply(float, plan: plan, samples: Self.calibration, threads: 1)
        let withFinetune = try Self.sqnr(float, finetuned)

        let equalizedPlan = QuantTesting.weightPlan(equalized)
        let (both, _) = try BiasCorrection.apply(equalized, plan: equalizedPlan, samples: Self.calibration, threads: 1)
        let withBoth = try Self.sqnr(float, both)
        // Bias correction changed the graph's float function: the target stays the equalized model.
        let (all, _) = try FastFinetune.apply(
            both, reference: equalized, plan: equalizedPlan, samples: Self.calibration, threads: 1)
        let withAll = try Self.sqnr(float, all)

        print(report)
        for correction in corrections {
            print(
                String(
                    format: "bias correction %@: mean |shift| %.4g, max %.4g", correction.layer, correction.meanShift,
                    correction.maxShift))
        }
        for result in results {
            print(
                String(
                    format: "fast finetune %@: error %.4g -> %.4g", result.layer, result.errorBefore, result.errorAfter)
            )
        }
        print(
            String(
                format: """
                    uneven_depthwise output SQNR, pow2 per-tensor weights (activations float), %d held-out samples:
                      weights quantized              %6.2f dB
                      + CLE                          %6.2f dB
                      + bias correction              %6.2f dB
                      + fast finetune                %6.2f dB
                      + CLE + bias correction        %6.2f dB
                      + CLE + bias corr. + finetune  %6.2f dB
                    """, Self.evaluation.count, baseline, withCLE, withBiasCorrection, withFinetune, withBoth, withAll))
        #expect(withCLE > baseline + 3)
        #expect(withBiasCorrection > baseline + 1)
        #expect(withFinetune >= baseline)
        #expect(withBoth > withCLE)
        #expect(withAll >= withBoth - 0.1)
    }

    /// The same through ``Quantizer`` and ``QuantSim``: the DPU scheme (power-of-two, weights
    /// and activations, the integer pipeline), each tool switched on by the config, output
    /// SQNR of the simulation on the held-out samples.
    @Test(arguments: [ScaleKind.pow2, .float])
    func quantizerToolsImproveSimulatedSQNR(_ scale: ScaleKind) throws {
        guard let entry = ReferenceModels.manifest.first(where: { $0.name == "uneven_depthwise" }) else { return }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let calibration = try CalibrationSet(samples: Self.calibration, for: graph)
        let float = try Interpreter(graph: graph)
        let expected = try Self.evaluation.map { try float.run($0) }
        func sqnr(_ change: (inout QuantizationConfig) -> Void) throws -> (Double, QuantReport) {
            var config = QuantizationConfig()
            config.scale = scale
            change(&config)
            let model = try Quantizer.quantize(graph, calibration: calibration, config: config)
            var (signal, noise) = (0.0, 0.0)
            for (sample, reference) in zip(Self.evaluation, expected) {
                let outputs = try QuantSim.run(model, inputs: sample, threads: 1)
                for (y, q) in zip(reference["output"]?.doubleScalars() ?? [], outputs["output"]?.doubleScalars() ?? []) {
                    signal += y * y
                    noise += (y - q) * (y - q)
                }
            }
            return (10 * log10(signal / max(noise, 1e-300)), model.report)
        }
        let (baseline, _) = try sqnr { _ in }
        let (withCLE, report) = try sqnr { $0.crossLayerEqualization = true }
        let (withBiasCorrection, _) = try sqnr { $0.biasCorrection = true }
        let (withFinetune, _) = try sqnr { $0.fastFinetune = true }
        let (withAll, _) = try sqnr {
            $0.crossLayerEqualization = true
            $0.biasCorrection = true
            $0.fastFinetune = true
        }
        print(
            String(
                format: """
                    uneven_depthwise through Quantizer + QuantSim (%@ scheme), %d held-out samples:
                      quantized                     %6.2f dB
                      --cle                         %6.2f dB
                      --bias-correction             %6.2f dB
                      --fast-finetune               %6.2f dB
                      all three                     %6.2f dB
                    """, scale.rawValue, Self.evaluation.count, baseline, withCLE, withBiasCorrection, withFinetune,
                withAll))
        print(report.equalization?.description ?? "no CLE report")
        #expect(report.equalization?.pairs.count == 2)
        #expect(withCLE > baseline + 3)
        #expect(withBiasCorrection > baseline + 1)
        #expect(withFinetune >= baseline)
        #expect(withAll >= withCLE)
    }
}
