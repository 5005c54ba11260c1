import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnRuntime
import KilnTestSupport
import Testing

/// The VM's graph-executor plans per input shape: the same bits as the bytecode on every
/// run, compiled only for shapes that repeat, nothing data-dependent folded.
@Suite struct ShapeSpecializationTests {
    /// Each input set three times (bytecode, compile, plan), alternating sets: every run
    /// equals the bytecode VM bit for bit.
    @Test(arguments: ["dynamic_shapes", "loop_model", "if_model"])
    func specializedRunsEqualTheBytecode(name: String) throws {
        guard let entry = ExecutorFixtures.entry(name) else { return }
        let graph = try GraphOptimization.all.apply(to: ONNXImporter.importModel(contentsOf: entry.modelURL).graph)
        let bytecode = try VirtualMachine(graph: graph)
        let specializing = try VirtualMachine(graph: graph, specializingShapes: true)
        let sets = try entry.inputSets().map(\.inputs)
        let references = try sets.map { try bytecode.run($0) }
        for round in 0..<3 {
            for (index, inputs) in sets.enumerated() {
                #expect(
                    ExecutorFixtures.identical(try specializing.run(inputs), references[index]),
                    "\(name) set \(index) round \(round)")
            }
        }
        #expect(bytecode.specializedPlanCount == 0)
        // if_model branches on data: its `If` stays, so it stays on the bytecode.
        #expect(specializing.specializedPlanCount == (name == "if_model" ? 0 : sets.count))
    }

    /// `auto` on a graph with dynamic shapes is the specializing VM.
    @Test func autoSpecializes() throws {
        guard let entry = ExecutorFixtures.entry("dynamic_shapes") else { return }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let executor = try #require(try ExecutorKind.auto.makeExecutor(for: graph) as? VirtualMachine)
        let inputs = try #require(try entry.inputSets().first).inputs
        for _ in 0..<2 { _ = try executor.run(inputs) }
        #expect(executor.specializedPlanCount == 1)
    }

    /// `NonZero`'s output shape depends on the data: runs with the same input shape but
    /// other data give their own results, before and after the plan is compiled (nothing
    /// data-dependent is folded into it).
    @Test func dataDependentShapesAreNeverBakedIn() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [.symbol("n")])
        builder.node("NonZero", ["x"], ["indices"])
        builder.node("Shape", ["indices"], ["count"])
        builder.output("indices", .int64, [.known(1), .symbol("k")])
        builder.output("count", .int64, [.known(2)])
        let graph = try ONNXImporter.importModel(data: try builder.serialized(), directory: nil).graph
        let vm = try VirtualMachine(graph: graph, specializingShapes: true)
        let data: [[Float]] = [[0, 1, 0, 2], [3, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]]
        for values in data + data {
            let x = Tensor(shape: [4], scalars: values)
            let outputs = try vm.run(["x": x])
            let nonzero = values.enumerated().filter { $0.element != 0 }.map { Int64($0.offset) }
            #expect(outputs["indices"] == Tensor(shape: [1, nonzero.count], scalars: nonzero))
            #expect(outputs["count"] == Tensor(shape: [2], scalars: [1, Int64(nonzero.count)]))
        }
    }

    /// An input an initializer shadows: left to its default, the shapes specialize; given in
    /// another shape than the initializer's, the run stays on the bytecode (a plan would
    /// refuse it) and still computes the sum.
    @Test func shadowedInputsOfAnotherShapeStayOnTheBytecode() throws {
        var graph = Graph(name: "shadowed")
        let x = graph.addValue(Value(name: "x", type: TensorType(dtype: .float32, shape: [.symbol("n")])))
        let b = graph.addInitializer(Tensor(shape: [1], scalars: [0.5] as [Float]), name: "b")
        // Declared with a symbolic length, so a caller may bind another shape.
        graph[b].type = TensorType(dtype: .float32, shape: [.symbol("m")])
        let y = graph.addValue(Value(name: "y"))
        graph.inputs = [x, b]
        graph.outputs = [y]
        graph.addNode(Node(name: "add", op: .add, inputs: [x, b], outputs: [y]))
        let vm = try VirtualMachine(graph: graph, specializingShapes: true)
        let values = Tensor(shape: [3], scalars: [1, 2, 3] as [Float])
        let offsets = Tensor(shape: [3], scalars: [10, 20, 30] as [Float])
        for _ in 0..<3 {
            #expect(try vm.run(["x": values, "b": offsets])["y"] == Tensor(shape: [3], scalars: [11, 22, 33] as [Float]))
        }
        #expect(vm.specializedPlanCount == 0)
        for _ in 0..<3 {
            #expect(try vm.run(["x": values])["y"] == Tensor(shape: [3], scalars: [1.5, 2.5, 3.5] as [Float]))
        }
        #expect(vm.specializedPlanCount == 1)
    }
}
