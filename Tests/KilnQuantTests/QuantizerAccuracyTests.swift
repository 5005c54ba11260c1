import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnQuant
import KilnTestSupport
import Testing

/// The accuracy check on the reference models: whole-model output SQNR of the DPU
/// scheme with minmax and mse calibration. Printed per model and method; the only threshold
/// is a sanity bound for the CNNs.
@Suite struct QuantizerAccuracyTests {
    /// The reference CNNs (sanity: SQNR above 15 dB).
    static let cnns: Set<String> = ["resnet_tiny", "mobilenetv2_tiny", "hardswish_net", "detector_head", "silu_net"]
    static let calibrationSamples = 16

    @Test(arguments: ReferenceModels.manifest)
    func dpuSchemeOutputSQNR(_ entry: ReferenceModels.Entry) throws {
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        guard let template = try entry.inputSets().first?.inputs else { return }
        let set = try CalibrationSet(
            samples: QuantTestData.samples(like: template, count: Self.calibrationSamples, seed: 4), for: graph)
        for method in [CalibrationMethod.minmax, .mse] {
            var config = QuantizationConfig()
            config.method = method
            let model = try Quantizer.quantize(graph, calibration: set, config: config)
            let sqnr = QuantReport.format(model.report.modelSQNR)
            print(
                "[accuracy] \(entry.name) dpu \(method): output SQNR \(sqnr) dB (\(model.plan.layers.count) DPU layers)"
            )
            if Self.cnns.contains(entry.name) {
                #expect((model.report.modelSQNR ?? .infinity) > 15, "\(entry.name) \(method): \(sqnr) dB")
            }
        }
    }
}
