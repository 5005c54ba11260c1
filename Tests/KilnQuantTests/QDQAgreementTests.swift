import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnTestSupport
import Testing

@testable import KilnQuant

/// The QDQ export run by onnxruntime agrees with the fake-quant simulation (`QuantSim`):
/// the integers of every quantized activation, compared tensor by tensor, are identical
/// (the issue asks for ≥ 99 %, rounding ties aside; the export breaks the DPU's ties upward,
/// so none are left).
@Suite struct QDQAgreementTests {
    struct Case: CustomStringConvertible, Sendable {
        let model: String
        let scale: ScaleKind
        var description: String { "\(model) \(scale)" }
    }

    /// The CNN reference models and the digits CNN, in both schemes.
    static let cases: [Case] = [
        "digits_cnn", "resnet_tiny", "mobilenetv2_tiny", "hardswish_net", "detector_head", "silu_net",
    ]
    .flatMap { model in [Case(model: model, scale: .pow2), Case(model: model, scale: .float)] }

    /// The model's graph, opset and a template input feed.
    static func load(_ name: String) throws -> (graph: Graph, opset: Int, template: [String: Tensor])? {
        if name == "digits_cnn" {
            let model = try ONNXImporter.importModel(
                contentsOf: PythonReference.root.appendingPathComponent("Examples/digits_cnn.onnx"))
            return (model.graph, model.opset, ["input": Tensor(zeros: [1, 1, 8, 8], dtype: .float32)])
        }
        guard let entry = ReferenceModels.manifest.first(where: { $0.name == name }) else { return nil }
        let model = try ONNXImporter.importModel(contentsOf: entry.modelURL)
        return (model.graph, model.opset, try entry.inputSets()[0].inputs)
    }

    /// Integers that agree between the simulation and a QDQ run.
    struct Agreement {
        var identical = 0
        var total = 0
        var worst = 0
        var lowest: (name: String, share: Double)?

        var share: Double { Double(identical) / Double(max(1, total)) }

        /// Compares one tensor: the simulated (dequantized) values against the QDQ run's integers.
        mutating func add(_ name: String, simulated: Tensor, quantization: TensorQuantization, integers actual: [Int]) {
            let scale = quantization.scales[0]
            let expected = simulated.scalars(as: Float.self).map {
                Int(($0 / scale).rounded()) + quantization.zeroPoints[0]
            }
            // A tensor of the wrong size counts as entirely different.
            let same = expected.count == actual.count ? zip(expected, actual).filter { $0 == $1 }.count : 0
            identical += same
            total += expected.count
            worst = max(worst, zip(expected, actual).map { Swift.abs($0 - $1) }.max() ?? 0)
            let tensorShare = Double(same) / Double(max(1, expected.count))
            if lowest == nil || tensorShare < lowest?.share ?? 1 { lowest = (name, tensorShare) }
        }

        var summary: String {
            String(
                format: "%d of %d integers identical (%.4f%%), max |difference| %d, lowest tensor %@ %.4f%%", identical,
                total,
                share * 100, worst, lowest?.name ?? "-", (lowest?.share ?? 1) * 100)
        }
    }

    /// Kiln's interpreter running the QDQ graph (its `QuantizeLinear` rounds half to even, as
    /// onnxruntime's does) and, when the venv exists, onnxruntime running the exported model
    /// compute the simulation's integers.
    @Test(arguments: cases)
    func qdqModelComputesTheSimulatedIntegers(_ testCase: Case) throws {
        guard let (graph, opset, template) = try Self.load(testCase.model) else {
            if PythonReference.isCI { Issue.record("reference model \(testCase.model) missing: run Scripts/test.sh") }
            return
        }
        var config = QuantizationConfig()
        config.scale = testCase.scale
        let calibration = try CalibrationSet(
            samples: QuantTestData.samples(like: template, count: 8, seed: 11), for: graph)
        let model = try Quantizer.quantize(graph, calibration: calibration, config: config)
        let qdq = try QDQExporter.qdqGraph(model.graph, plan: model.plan)
        let onnx = try ONNXExporter.export(qdq, opset: max(opset, ONNXExporter.oldestOpset))
        let program = try SimulationProgram(graph: model.graph, plan: model.plan)
        let constants = Set(model.graph.initializers.keys.map { model.graph[$0].name })
        let activations = model.plan.tensors.filter { !constants.contains($0.key) }
        var interpreter = try Interpreter(graph: qdq)
        let kilnRun = TensorCollector()
        interpreter.valueHook = { name, tensor in
            if name.hasSuffix("_quantized") { kilnRun.record(name, tensor) }
            return nil
        }
        let hasPython = PythonReference.python != nil
        if !hasPython && PythonReference.isCI { Issue.record(Comment(rawValue: PythonReference.missingMessage)) }

        var kiln = Agreement()
        var onnxruntime = Agreement()
        for inputs in QuantTestData.samples(like: template, count: 2, seed: 23) {
            let simulated = TensorCollector()
            _ = try program.run(inputs, threads: 1) { name, tensor in
                if activations[name] != nil { simulated.record(name, tensor) }
            }
            _ = try interpreter.run(inputs)
            let ort = hasPython ? try OnnxruntimeRun.quantizedTensors(of: onnx, inputs: inputs) : [:]
            for (name, quantization) in activations.sorted(by: { $0.key < $1.key }) {
                let expected = try #require(simulated.tensors[name], "\(name) not simulated")
                let integers = try #require(
                    kilnRun.tensors["\(name)_quantized"]?.integerScalars(), "\(name) not in the QDQ graph")
                kiln.add(name, simulated: expected, quantization: quantization, integers: integers)
                if hasPython {
                    let fromOnnxruntime = try #require(
                        ort["\(name)_quantized"]?.integerScalars(), "\(name) not in the ONNX model")
                    onnxruntime.add(name, simulated: expected, quantization: quantization, integers: fromOnnxruntime)
                }
            }
        }
        print("qdq agreement \(testCase) — kiln interpreter: \(kiln.summary)")
        #expect(kiln.share >= 0.99, "\(testCase): kiln interpreter \(kiln.summary)")
        #expect(kiln.total > 0)
        if hasPython {
            print("qdq agreement \(testCase) — onnxruntime: \(onnxruntime.summary)")
            #expect(onnxruntime.share >= 0.99, "\(testCase): onnxruntime \(onnxruntime.summary)")
        }
    }
}
