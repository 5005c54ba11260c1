import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnPasses
import KilnQuant
import KilnTestSupport
import Testing

/// Bias correction and fast finetune on the reference CNNs of Scripts/make_models.py
/// (pow2 per-tensor weights, activations float): neither lowers the output SQNR on the
/// calibration samples, and both run in seconds in a debug build (printed, not asserted).
@Suite struct ReferenceModelToolsTests {
    static let models = ["resnet_tiny", "mobilenetv2_tiny", "hardswish_net", "detector_head", "silu_net"]

    static func entries() -> [ReferenceModels.Entry] {
        ReferenceModels.manifest.filter { models.contains($0.name) }
    }

    @Test(arguments: entries())
    func toolsDoNotRegress(_ entry: ReferenceModels.Entry) throws {
        let imported = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let graph = try PassManager(Pass.canonicalization).run(imported).0
        var samples: [[String: Tensor]] = []
        for index in 0..<8 {
            var feeds: [String: Tensor] = [:]
            for id in graph.inputs where graph.initializers[id] == nil {
                let shape = try #require(graph[id].type.staticShape)
                feeds[graph[id].name] = QuantTesting.random(shape, seed: 500 + UInt64(index) * 31 + UInt64(feeds.count), scale: 1.7)
            }
            samples.append(feeds)
        }
        let plan = QuantTesting.weightPlan(graph)
        let quantized = { (graph: Graph) in try QuantTesting.sqnr(reference: graph, quantized: QuantTesting.weightQuantized(graph, plan), samples: samples) }
        let baseline = try quantized(graph)
        var clock = ContinuousClock.now
        let (corrected, _) = try BiasCorrection.apply(graph, plan: plan, samples: samples, threads: 1)
        let biasSeconds = ContinuousClock.now - clock
        clock = ContinuousClock.now
        let (finetuned, results) = try FastFinetune.apply(graph, plan: plan, samples: samples, threads: 1)
        let finetuneSeconds = ContinuousClock.now - clock
        let withBias = try QuantTesting.sqnr(reference: graph, quantized: QuantTesting.weightQuantized(corrected, plan), samples: samples)
        let withFinetune = try QuantTesting.sqnr(reference: graph, quantized: QuantTesting.weightQuantized(finetuned, plan), samples: samples)
        print(
            String(
                format: "%@: %d layers, SQNR %.2f dB; bias correction %.2f dB (%@); fast finetune %.2f dB (%@)",
                entry.name, results.count, baseline, withBias, "\(biasSeconds)", withFinetune, "\(finetuneSeconds)"))
        #expect(withBias >= baseline - 0.05)
        #expect(withFinetune >= baseline)
    }
}
