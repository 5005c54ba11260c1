import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnPasses
import KilnQuant
import KilnTestSupport
import Testing

/// Bias correction and fast finetune on the reference CNNs of Scripts/make_models.py
/// (pow2 per-tensor weights, activations float, 8 random calibration samples): neither
/// lowers the output SQNR on the calibration samples; SQNR on 8 held-out samples and the
/// time each tool takes (debug build) are printed, not asserted. Serialized, so that the
/// times are each tool's own.
@Suite(.serialized) struct ReferenceModelToolsTests {
    // docs/quantization-tools.md has the numbers of all five CNNs (add detector_head, silu_net to see them).
    static let models = ["resnet_tiny", "mobilenetv2_tiny", "hardswish_net"]

    static func entries() -> [ReferenceModels.Entry] {
        ReferenceModels.manifest.filter { models.contains($0.name) }
    }

    static func samples(_ graph: Graph, seed: UInt64) throws -> [[String: Tensor]] {
        try (0..<8).map { index in
            var feeds: [String: Tensor] = [:]
            for id in graph.inputs where graph.initializers[id] == nil {
                let shape = try #require(graph[id].type.staticShape)
                feeds[graph[id].name] = QuantTesting.random(shape, seed: seed + UInt64(index) * 31, scale: 1.7)
            }
            return feeds
        }
    }

    @Test(arguments: entries())
    func toolsDoNotRegress(_ entry: ReferenceModels.Entry) throws {
        let imported = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let graph = try PassManager(Pass.canonicalization).run(imported).0
        let calibration = try Self.samples(graph, seed: 500)
        let held = try Self.samples(graph, seed: 9000)
        let plan = QuantTesting.weightPlan(graph)
        func sqnr(_ tuned: Graph, _ samples: [[String: Tensor]]) throws -> Double {
            try QuantTesting.sqnr(reference: graph, quantized: QuantTesting.weightQuantized(tuned, plan), samples: samples)
        }
        var clock = ContinuousClock.now
        let (corrected, _) = try BiasCorrection.apply(graph, plan: plan, samples: calibration, threads: 1)
        let biasTime = ContinuousClock.now - clock
        clock = ContinuousClock.now
        let (finetuned, _) = try FastFinetune.apply(graph, plan: plan, samples: calibration, threads: 1)
        let finetuneTime = ContinuousClock.now - clock
        let rows = [("weights quantized", graph), ("+ bias correction", corrected), ("+ fast finetune", finetuned)]
        let measured = try rows.map { name, tuned in (name, try sqnr(tuned, calibration), try sqnr(tuned, held)) }
        print(
            "\(entry.name): SQNR calibration / held-out: "
                + measured.map { String(format: "%@ %.2f / %.2f dB", $0.0, $0.1, $0.2) }.joined(separator: "; ")
                + String(
                    format: "; time: bias correction %.1f s, fast finetune %.1f s", Self.seconds(biasTime),
                    Self.seconds(finetuneTime)))
        #expect(measured[1].1 >= measured[0].1 - 0.05)
        #expect(measured[2].1 >= measured[0].1)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}
