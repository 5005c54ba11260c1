import Foundation
import KilnCore
import KilnIR
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
}
