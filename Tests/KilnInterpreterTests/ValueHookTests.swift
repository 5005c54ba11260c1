import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnTestSupport
import Synchronization
import Testing

@Suite struct ValueHookTests {
    static func model() throws -> Graph {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [2])
        builder.node("Relu", ["x"], ["r"])
        builder.node("Neg", ["r"], ["y"])
        builder.output("y", .float32, [2])
        return try ONNXImporter.importModel(data: try builder.serialized(), directory: nil).graph
    }

    @Test func seesEveryValueAndCanReplaceIt() throws {
        var interpreter = try Interpreter(graph: try Self.model())
        let seen = Mutex<[String]>([])
        interpreter.valueHook = { name, tensor in
            seen.withLock { $0.append(name) }
            // Replace r by 10 · r: downstream nodes must read the replacement.
            guard name == "r" else { return nil }
            return Tensor(shape: tensor.shape, scalars: tensor.scalars(as: Float.self).map { $0 * 10 })
        }
        let y = try interpreter.run(["x": Tensor(shape: [2], scalars: [1, 2] as [Float])])["y"]
        #expect(seen.withLock { $0 } == ["x", "r", "y"])
        #expect(y == Tensor(shape: [2], scalars: [-10, -20] as [Float]))
    }
}
