import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnTestSupport
import Testing

@Suite struct EvaluatorOverrideTests {
    /// An override replaces one node's evaluator; the value hook still sees its output.
    @Test func replacesTheChosenNodeOnly() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [2])
        builder.node("Relu", ["x"], ["r"], name: "relu")
        builder.node("Neg", ["r"], ["y"], name: "neg")
        builder.output("y", .float32, [2])
        let graph = try ONNXImporter.importModel(data: try builder.serialized(), directory: nil).graph
        var interpreter = try Interpreter(graph: graph)
        interpreter.evaluatorOverride = { node in
            guard node.name == "relu" else { return nil }
            return { _, inputs, _ in
                let x = inputs[0]?.scalars(as: Float.self) ?? []
                return [Tensor(shape: [x.count], scalars: x.map { $0 * 3 })]
            }
        }
        interpreter.valueHook = { name, tensor in
            name == "r" ? Tensor(shape: tensor.shape, scalars: tensor.scalars(as: Float.self).map { $0 + 1 }) : nil
        }
        let y = try interpreter.run(["x": Tensor(shape: [2], scalars: [-1, 2] as [Float])])["y"]
        #expect(y == Tensor(shape: [2], scalars: [2, -7] as [Float]))  // −(3x + 1)
    }
}
