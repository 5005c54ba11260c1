import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnQuant
import KilnTestSupport
import Testing

/// `QDQExporter` with hand-made plans: the structure of the QDQ model, the integers it
/// stores, the DPU forms, and agreement of Kiln's interpreter, onnxruntime and a
/// fake-quant reference on the quantized values.
@Suite struct QDQExporterTests {
    /// x[1,2,6,6] → Conv(3×3, pad 1) → Relu → MaxPool 2×2 → Flatten → Gemm → y[1,3].
    static func convNet() throws -> Graph {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 2, 6, 6])
        builder.initializer("w", Self.pattern([4, 2, 3, 3], scale: 0.3))
        builder.initializer("b", Self.pattern([4], scale: 0.2))
        builder.initializer("w2", Self.pattern([3, 36], scale: 0.1))
        builder.initializer("b2", Self.pattern([3], scale: 0.5))
        builder.node("Conv", ["x", "w", "b"], ["c"], name: "conv", attributes: ["pads": .ints([1, 1, 1, 1])])
        builder.node("Relu", ["c"], ["r"], name: "relu")
        builder.node(
            "MaxPool", ["r"], ["p"], name: "pool",
            attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
        builder.node("Flatten", ["p"], ["f"], name: "flatten")
        builder.node("Gemm", ["f", "w2", "b2"], ["y"], name: "fc", attributes: ["transB": .int(1)])
        builder.output("y", .float32, [1, 3])
        return try ONNXImporter.importModel(data: try builder.serialized(), directory: nil).graph
    }

    /// Deterministic values in about ±scale with an irregular pattern.
    static func pattern(_ shape: [Int], scale: Float, seed: Int = 1) -> Tensor {
        let count = shape.reduce(1, *)
        return Tensor(
            shape: shape,
            scalars: (0..<count).map { index -> Float in
                let phase = Float((index * 7919 + seed * 104_729) % 1000) / 1000
                return (phase * 2 - 1) * scale
            })
    }

    static func dpuPlan() -> QuantizationPlan {
        var plan = QuantizationPlan(scale: .pow2, target: nil, method: .minmax, calibrationSamples: 1)
        for (name, position) in [("x", 5), ("r", 4), ("p", 4), ("f", 4), ("y", 3)] {
            plan.tensors[name] = .fixPosition(position, roundMode: .halfUp, method: .minmax)
        }
        for (name, position) in [("w", 8), ("b", 6), ("w2", 9), ("b2", 7)] {
            plan.tensors[name] = .fixPosition(position, roundMode: .halfToEven)
        }
        return plan
    }

    /// The float graph with weights replaced by their quantized values and every planned
    /// activation fake-quantized by the interpreter's value hook, rounding as `roundMode`
    /// says: a reference for what the QDQ model computes.
    static func fakeQuantized(
        _ graph: Graph, _ plan: QuantizationPlan, _ inputs: [String: Tensor], roundMode: RoundMode? = nil
    )
        throws -> [String: Tensor]
    {
        var weighted = graph
        for (id, tensor) in graph.initializers {
            guard let q = plan.tensors[graph[id].name] else { continue }
            weighted.initializers[id] = fakeQuantize(tensor, q, roundMode: q.roundMode)
        }
        var interpreter = try Interpreter(graph: weighted)
        let seen = TensorCollector()
        interpreter.valueHook = { name, tensor in
            guard let q = plan.tensors[name] else { return nil }
            let result = fakeQuantize(tensor, q, roundMode: roundMode ?? q.roundMode)
            seen.record(name, result)
            return result
        }
        let quantizedInputs = Dictionary(
            uniqueKeysWithValues: inputs.map { name, tensor in
                (
                    name,
                    plan.tensors[name].map { fakeQuantize(tensor, $0, roundMode: roundMode ?? $0.roundMode) } ?? tensor
                )
            })
        _ = try interpreter.run(quantizedInputs)
        for (name, tensor) in quantizedInputs where plan.tensors[name] != nil { seen.record(name, tensor) }
        return seen.tensors
    }

    /// `(round(x / s) + zp − zp) · s`, per tensor.
    static func fakeQuantize(_ tensor: Tensor, _ q: TensorQuantization, roundMode: RoundMode) -> Tensor {
        let scale = q.scales[0]
        let zeroPoint = q.zeroPoints[0]
        let values = tensor.scalars(as: Float.self).map { value -> Float in
            let rounded = roundMode.round(Double(value / scale)) + Double(zeroPoint)
            let saturated = min(max(rounded, Double(q.integerRange.lowerBound)), Double(q.integerRange.upperBound))
            return Float(saturated - Double(zeroPoint)) * scale
        }
        return Tensor(shape: tensor.shape, scalars: values)
    }

    /// Integers of a fake-quantized tensor (per tensor).
    static func integers(_ tensor: Tensor, _ q: TensorQuantization) -> [Int] {
        tensor.scalars(as: Float.self).map { Int(($0 / q.scales[0]).rounded()) + q.zeroPoints[0] }
    }

    // MARK: Structure

    @Test func weightsBecomeIntegersAndActivationsGetQDQPairs() throws {
        let graph = try Self.convNet()
        let plan = Self.dpuPlan()
        let data = try QDQExporter.export(graph, plan: plan, opset: 13)
        let back = try ONNXImporter.importModel(data: data, directory: nil).graph
        let counts = back.nodes.reduce(into: [OpKind: Int]()) { $0[$1.op, default: 0] += 1 }
        #expect(counts[.quantizeLinear] == 5)  // x, r, p, f, y
        #expect(counts[.dequantizeLinear] == 9)  // 5 activations + 4 constants
        let stored = try #require(back.valueID(named: "w_quantized"))
        let weights = try #require(back.initializers[stored])
        #expect(weights.dtype == .int8 && weights.shape == [4, 2, 3, 3])
        let weightID = try #require(graph.valueID(named: "w"))
        let floatWeights = try #require(graph.initializers[weightID])
        let expected = floatWeights.scalars(as: Float.self).map {
            FixedPoint.quantize($0, fixPosition: 8, mode: .halfToEven)
        }
        #expect(weights.integerScalars() == expected)
        let scaleID = try #require(back.valueID(named: "w_scale"))
        let scale = try #require(back.initializers[scaleID])
        #expect(scale.scalars(as: Float.self) == [1.0 / 256])  // 2^-8 exactly
        // The graph output keeps its name, on the dequantized value.
        #expect(back.outputs.map { back[$0].name } == ["y"])
        let producer = try #require(back.nodes.first { $0.outputs.contains(back.outputs[0]) })
        #expect(producer.op == .dequantizeLinear)
        #expect(back.valueID(named: "y_float") != nil)
    }

    @Test func floatSchemeStoresInt32BiasesAndPerChannelWeights() throws {
        let graph = try Self.convNet()
        var plan = QuantizationPlan(scale: .float, target: nil, method: .minmax, calibrationSamples: 1)
        plan.tensors["x"] = .scaled([0.01], zeroPoints: [100], dtype: .uint8, method: .minmax)
        plan.tensors["w"] = .scaled([0.002, 0.0025, 0.003, 0.0021], axis: 0)
        let proto = try ONNXExporter.modelProto(try QDQExporter.qdqGraph(graph, plan: plan), opset: 13)
        let bias = try #require(proto.graph.initializer.first { $0.name == "b_quantized" })
        #expect(bias.dataType == 6)  // int32
        let biasDQ = try #require(proto.graph.node.first { $0.output == ["b"] })
        #expect(biasDQ.opType == "DequantizeLinear" && biasDQ.input.count == 2)
        #expect(biasDQ.attribute.first { $0.name == "axis" }?.i == 0)
        let biasScale = try #require(proto.graph.initializer.first { $0.name == "b_scale" })
        let scales = biasScale.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(scales == [0.002, 0.0025, 0.003, 0.0021].map { Float(0.01) * $0 })
        let weightDQ = try #require(proto.graph.node.first { $0.output == ["w"] })
        #expect(weightDQ.attribute.first { $0.name == "axis" }?.i == 0)
        // The un-planned Gemm keeps a float bias (its input is not quantized).
        #expect(proto.graph.initializer.contains { $0.name == "b2" && $0.dataType == 1 })
    }

    @Test func dpuFormsOfLeakyReluPoolsAndHardSwish() throws {
        var builder = ONNXModelBuilder(opset: 14)
        builder.input("x", .float32, [1, 2, 7, 7])
        builder.node("LeakyRelu", ["x"], ["l"], name: "leaky", attributes: ["alpha": .float(0.1)])
        builder.node("AveragePool", ["l"], ["a"], name: "avg", attributes: ["kernel_shape": .ints([3, 3])])
        builder.node("HardSwish", ["a"], ["h"], name: "hswish")
        builder.node("GlobalAveragePool", ["h"], ["g"], name: "gap")
        builder.output("g", .float32, [1, 2, 1, 1])
        let graph = try ONNXImporter.importModel(data: try builder.serialized(), directory: nil).graph
        var plan = QuantizationPlan(scale: .pow2, target: nil, method: .minmax, calibrationSamples: 1)
        for name in ["x", "l", "a", "h", "g"] { plan.tensors[name] = .fixPosition(5, roundMode: .halfUp) }
        let qdq = try QDQExporter.qdqGraph(graph, plan: plan)
        let leaky = try #require(qdq.nodes.first { $0.op == .leakyRelu })
        #expect(leaky.attributes["alpha"] == .float(0.1015625))
        // 3×3 → 7/64 of the window sum: the mean times 9 · 7/64; 5×5 (global) → 10/256.
        let multipliers = qdq.nodes.filter { $0.op == .mul }.compactMap {
            $0.input(1).flatMap { qdq.initializers[$0]?.scalars(as: Float.self).first }
        }
        #expect(multipliers == [Float(9 * 7) / 64, Float(2731) / 16384, Float(25 * 10) / 256])
        // The hard-swish's inner hard-sigmoid is quantized at 2^-7.
        let inner = try #require(qdq.valueID(named: "h_hard_sigmoid_scale"))
        #expect(qdq.initializers[inner]?.scalars(as: Float.self) == [1.0 / 128])
        // A float plan keeps the model's arithmetic.
        var floatPlan = plan
        floatPlan.scale = .float
        let unchanged = try QDQExporter.qdqGraph(graph, plan: floatPlan)
        #expect(unchanged.nodes.first { $0.op == .leakyRelu }?.attributes["alpha"] == .float(0.1))
        #expect(!unchanged.nodes.contains { $0.name.hasSuffix("_dpu_multiplier") })
        _ = try ONNXExporter.export(qdq, opset: 14)
    }

    @Test func planFileSitsBesideTheModel() throws {
        #expect(QDQExporter.planURL(forModelAt: URL(fileURLWithPath: "/tmp/out.onnx")).path == "/tmp/out.quant.json")
        #expect(QDQExporter.planURL(forModelAt: URL(fileURLWithPath: "/tmp/out")).path == "/tmp/out.quant.json")
        let plan = Self.dpuPlan()
        let text = String(decoding: try plan.jsonData(), as: UTF8.self)
        #expect(text.contains("\n  \"adjustments\""))  // pretty, sorted: adjustments first
        #expect(try JSONDecoder().decode(QuantizationPlan.self, from: try plan.jsonData()) == plan)
    }

    // MARK: Numerics

    /// Kiln's interpreter running the QDQ graph computes, for every quantized tensor, the
    /// integers a fake-quant reference with the same (half-to-even) rounding gives.
    @Test func qdqGraphMatchesFakeQuantization() throws {
        let graph = try Self.convNet()
        let plan = Self.dpuPlan()
        let inputs = ["x": Self.pattern([1, 2, 6, 6], scale: 3, seed: 5)]
        let reference = try Self.fakeQuantized(graph, plan, inputs, roundMode: .halfToEven)
        var interpreter = try Interpreter(graph: try QDQExporter.qdqGraph(graph, plan: plan))
        let quantized = TensorCollector()
        interpreter.valueHook = { name, tensor in
            if name.hasSuffix("_quantized") { quantized.record(name, tensor) }
            return nil
        }
        let outputs = try interpreter.run(inputs)
        for name in ["x", "r", "p", "f", "y"] {
            let q = try #require(plan.tensors[name])
            let ints = try #require(quantized.tensors["\(name)_quantized"]?.integerScalars(), "\(name)")
            #expect(ints == Self.integers(try #require(reference[name]), q), "\(name)")
        }
        #expect(outputs["y"] == reference["y"])
    }

    /// onnxruntime running the exported model computes the same integers as Kiln's
    /// interpreter running the QDQ graph (both round half to even).
    @Test func onnxruntimeAgreesWithTheQDQGraph() throws {
        guard PythonReference.python != nil else {
            if PythonReference.isCI { Issue.record(Comment(rawValue: PythonReference.missingMessage)) }
            return
        }
        let graph = try Self.convNet()
        let plan = Self.dpuPlan()
        let qdq = try QDQExporter.qdqGraph(graph, plan: plan)
        let inputs = ["x": Self.pattern([1, 2, 6, 6], scale: 3, seed: 5)]
        var interpreter = try Interpreter(graph: qdq)
        let kiln = TensorCollector()
        interpreter.valueHook = { name, tensor in
            if name.hasSuffix("_quantized") { kiln.record(name, tensor) }
            return nil
        }
        _ = try interpreter.run(inputs)
        let ort = try OnnxruntimeRun.quantizedTensors(of: try ONNXExporter.export(qdq, opset: 13), inputs: inputs)
        #expect(Set(ort.keys.filter { $0.hasSuffix("_quantized") }) == Set(kiln.tensors.keys))
        for (name, tensor) in kiln.tensors {
            #expect(ort[name]?.integerScalars() == tensor.integerScalars(), "\(name)")
        }
    }
}

/// Runs an ONNX model in onnxruntime through `Scripts/run_onnxruntime.py --quantized`.
enum OnnxruntimeRun {
    /// The graph outputs and every `QuantizeLinear` result.
    static func quantizedTensors(of model: Data, inputs: [String: Tensor]) throws -> [String: Tensor] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-qdq-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let modelURL = directory.appendingPathComponent("model.onnx")
        let inputURL = directory.appendingPathComponent("inputs.npz")
        let outputURL = directory.appendingPathComponent("outputs.npz")
        try model.write(to: modelURL)
        try NPZ.write(inputs, to: inputURL)
        let run = try PythonReference.run(
            "run_onnxruntime.py", [modelURL.path, inputURL.path, outputURL.path, "--quantized"])
        guard run.status == 0 else {
            throw KilnError(.invalidArgument, "run_onnxruntime.py failed: \(run.stdout)\(run.stderr)")
        }
        return try NPZ.read(contentsOf: outputURL)
    }
}

/// Tensors a value hook sees, by name (the hook may run on any thread).
final class TensorCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String: Tensor] = [:]

    func record(_ name: String, _ tensor: Tensor) { lock.withLock { storage[name] = tensor } }

    var tensors: [String: Tensor] { lock.withLock { storage } }
}
