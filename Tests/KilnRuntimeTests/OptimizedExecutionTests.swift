import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnRuntime
import KilnTestSupport
import Testing

/// The optimized graph executor against the interpreter where packing and fusion must step
/// aside.
@Suite struct OptimizedExecutionTests {
    /// A conv whose weight is an initializer that is also a graph input (a default the caller
    /// may override) is not packed: binding another weight changes the result.
    @Test func overridableWeightsAreNotPacked() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 2, 5, 5])
        builder.input("w", .float32, [3, 2, 3, 3])
        builder.initializer("w", TestTensors.uniform([3, 2, 3, 3], seed: 1, scale: 1))
        builder.node("Conv", ["x", "w"], ["c"], attributes: ["pads": .ints([1, 1, 1, 1])])
        builder.node("Relu", ["c"], ["y"])
        builder.output("y", .float32, [1, 3, 5, 5])
        let graph = try ONNXImporter.importModel(data: try builder.serialized(), directory: nil).graph
        let x = TestTensors.uniform([1, 2, 5, 5], seed: 2, scale: 1)
        let other = TestTensors.uniform([3, 2, 3, 3], seed: 3, scale: 1)
        let executor = try ExecutorKind.graph.makeExecutor(for: graph)
        let interpreter = try Interpreter(graph: graph)
        for inputs in [["x": x], ["x": x, "w": other]] {
            let expected = try #require(try interpreter.run(inputs)["y"])
            let actual = try #require(try executor.run(inputs)["y"])
            let worst = zip(actual.scalars(as: Float.self), expected.scalars(as: Float.self)).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5, "inputs \(inputs.keys.sorted()): \(worst)")
        }
    }
}
