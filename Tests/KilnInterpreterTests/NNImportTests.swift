import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnONNXProto
import KilnTestSupport
import Testing

/// NN-family import rules: old op versions normalized to the newest form, and the
/// attribute values Kiln rejects at import time.
@Suite struct NNImportTests {
    private func importing(_ builder: ONNXModelBuilder) throws -> ImportedModel {
        try ONNXImporter.importModel(data: try builder.serialized(), directory: nil)
    }

    @Test(arguments: ["Softmax", "LogSoftmax", "Hardmax"])
    func opset11NormalizesOverTheFlattenedTrailingAxes(op: String) throws {
        var builder = ONNXModelBuilder(opset: 11)
        builder.input("x", .float32, [2, 3, 2])
        builder.node(op, ["x"], ["y"])  // axis defaults to 1: rows of 3·2 elements
        builder.output("y", .float32, [2, 3, 2])
        let model = try importing(builder)
        let values = (0..<12).map { Float($0 % 5) * 0.5 }
        let outputs = try Interpreter(graph: model.graph).run(["x": Tensor(shape: [2, 3, 2], scalars: values)])
        let y = try #require(outputs["y"]).scalars(as: Float.self)
        for row in 0..<2 {
            let line = Array(values[(row * 6)..<(row * 6 + 6)])
            let maximum = line.max() ?? 0
            let sum = line.map { exp($0 - maximum) }.reduce(0, +)
            let expected: [Float]
            switch op {
            case "Softmax": expected = line.map { exp($0 - maximum) / sum }
            case "LogSoftmax": expected = line.map { $0 - maximum - log(sum) }
            default:
                let first = line.firstIndex(of: maximum) ?? 0
                expected = line.indices.map { $0 == first ? 1 : 0 }
            }
            for (actual, wanted) in zip(y[(row * 6)..<(row * 6 + 6)], expected) {
                #expect(abs(actual - wanted) < 1e-5, "\(op) row \(row)")
            }
        }
    }

    @Test func opset13SoftmaxUsesOneAxis() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 2, 2])
        builder.node("Softmax", ["x"], ["y"], attributes: ["axis": .int(1)])
        builder.output("y", .float32, [1, 2, 2])
        let outputs = try Interpreter(graph: try importing(builder).graph).run(["x": Tensor(shape: [1, 2, 2], scalars: [0, 5, 0, 1] as [Float])])
        let y = try #require(outputs["y"]).scalars(as: Float.self)
        #expect(abs(y[0] - 0.5) < 1e-6 && abs(y[2] - 0.5) < 1e-6)
    }

    private func batchNormalization(opset: Int, attributes: [String: ONNXModelBuilder.AttributeSpec], outputs: [String] = ["y"]) -> ONNXModelBuilder {
        var builder = ONNXModelBuilder(opset: opset)
        builder.input("x", .float32, [1, 2, 2])
        for name in ["scale", "bias", "mean", "var"] {
            builder.initializer(name, Tensor(shape: [2], scalars: [1, 1] as [Float]))
        }
        builder.node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], outputs, attributes: attributes)
        builder.output("y", .float32, [1, 2, 2])
        return builder
    }

    @Test func batchNormalizationTrainingIsRejectedAtImport() throws {
        for builder in [
            batchNormalization(opset: 15, attributes: ["training_mode": .int(1)]),
            batchNormalization(opset: 7, attributes: ["spatial": .int(0)]),
            batchNormalization(opset: 9, attributes: [:], outputs: ["y", "running_mean", "running_var"]),
        ] {
            let error = try #require(throws: KilnError.self) { try importing(builder) }
            #expect(error.code == .unsupportedAttribute)
        }
        #expect(throws: Never.self) { try importing(batchNormalization(opset: 7, attributes: ["spatial": .int(1)])) }
    }

    @Test func unsupportedRecurrentActivationIsNamed() throws {
        var builder = ONNXModelBuilder(opset: 14)
        builder.input("x", .float32, [2, 1, 3])
        builder.initializer("w", Tensor(zeros: [1, 8, 3], dtype: .float32))
        builder.initializer("r", Tensor(zeros: [1, 8, 2], dtype: .float32))
        builder.node("GRU", ["x", "w", "r"], ["y"], attributes: ["hidden_size": .int(2)])
        var activations = Onnx_AttributeProto()
        activations.name = "activations"
        activations.type = .strings
        activations.strings = ["Sigmoid", "Swish"].map { Data($0.utf8) }
        builder.model.graph.node[0].attribute.append(activations)
        builder.output("y", .float32, [2, 1, 1, 2])
        let error = try #require(throws: KilnError.self) { try importing(builder) }
        #expect(error.code == .unsupportedAttribute)
        #expect(error.message.contains("Swish"))
    }

    @Test func malformedEinsumEquationIsUnsupportedAttribute() throws {
        var builder = ONNXModelBuilder(opset: 12)
        builder.input("x", .float32, [2, 2])
        builder.node("Einsum", ["x"], ["y"], attributes: ["equation": .string("ij->i->j")])
        builder.output("y", .float32, [2])
        let error = try #require(throws: KilnError.self) { try importing(builder) }
        #expect(error.code == .unsupportedAttribute)
        #expect(error.message.contains("ij->i->j"))
    }
}
