import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnRuntime
import KilnTestSupport
import Testing

/// Every reference model through an artifact, under the graph executor (where shapes are
/// static) and the VM: without graph optimization the interpreter's outputs bit for bit,
/// onnxruntime's closely; optimized (the default) the two executors agree bit for bit and
/// stay close to onnxruntime.
@Suite struct ExecutorTests {
    @Test(arguments: ReferenceModels.manifest)
    func artifactRunsMatchTheInterpreter(entry: ReferenceModels.Entry) throws {
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let artifact = try ExecutorFixtures.artifact(for: graph)
        let interpreter = try Interpreter(graph: graph)
        let vm = try artifact.makeExecutor(.vm, optimization: .none)
        #expect(vm.kindName == "vm")
        for (index, (inputs, expected)) in try entry.inputSets().enumerated() {
            let reference = try interpreter.run(inputs)
            let vmOutputs = try vm.run(inputs)
            #expect(ExecutorFixtures.identical(vmOutputs, reference), "\(entry.name) set \(index): VM differs from the interpreter")
            for (name, tensor) in expected {
                let actual = try #require(vmOutputs[name], "\(entry.name): output \(name) missing")
                #expect(ExecutorFixtures.relativeError(actual, tensor) <= 1e-4, "\(entry.name)/\(name) vs onnxruntime")
            }

            let shapes = ExecutorFixtures.shapes(inputs)
            guard GraphExecutor.unsupportedReason(graph, inputShapes: shapes) == nil else {
                print("\(entry.name): graph executor not applicable (\(GraphExecutor.unsupportedReason(graph) ?? ""))")
                #expect(throws: KilnError.self) { _ = try artifact.makeExecutor(.graph, inputShapes: shapes) }
                continue
            }
            let executor = try artifact.makeExecutor(.graph, inputShapes: shapes, optimization: .none)
            let plan = try #require(executor.plannedMemory)
            #expect(plan.arenaBytes <= plan.intermediateBytes)
            let context = try #require(executor as? GraphExecutor).makeContext()
            let graphOutputs = try context.run(inputs)
            print(
                "\(entry.name): \(plan.summary); at run time \(context.unplannedOutputs) outputs "
                    + "allocated by their evaluator, \(context.copiedOutputs) copied into their slot")
            #expect(
                ExecutorFixtures.identical(graphOutputs, reference),
                "\(entry.name) set \(index): graph executor differs from the interpreter")
            for (name, tensor) in expected {
                let actual = try #require(graphOutputs[name], "\(entry.name): output \(name) missing")
                #expect(ExecutorFixtures.relativeError(actual, tensor) <= 1e-4, "\(entry.name)/\(name) vs onnxruntime")
            }
        }
    }

    /// Optimized (batch norms folded, conv epilogues fused, weights packed): the graph
    /// executor and the VM give the same bits, within 1e-4 of onnxruntime and the interpreter.
    @Test(arguments: ReferenceModels.manifest)
    func optimizedExecutorsAgree(entry: ReferenceModels.Entry) throws {
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let artifact = try ExecutorFixtures.artifact(for: graph)
        let interpreter = try Interpreter(graph: graph)
        let vm = try artifact.makeExecutor(.vm)
        for (index, (inputs, expected)) in try entry.inputSets().enumerated() {
            let reference = try interpreter.run(inputs)
            let vmOutputs = try vm.run(inputs)
            for (name, tensor) in expected {
                let actual = try #require(vmOutputs[name], "\(entry.name): output \(name) missing")
                #expect(ExecutorFixtures.relativeError(actual, tensor) <= 1e-4, "\(entry.name)/\(name) vs onnxruntime")
                let interpreted = try #require(reference[name])
                #expect(ExecutorFixtures.relativeError(actual, interpreted) <= 1e-4, "\(entry.name)/\(name) vs interpreter")
            }
            let shapes = ExecutorFixtures.shapes(inputs)
            guard GraphExecutor.unsupportedReason(graph, inputShapes: shapes) == nil else { continue }
            let graphOutputs = try artifact.makeExecutor(.graph, inputShapes: shapes).run(inputs)
            #expect(
                ExecutorFixtures.identical(graphOutputs, vmOutputs),
                "\(entry.name) set \(index): optimized graph executor and VM differ")
        }
    }

    /// The ResNet-style model's arena is less than half of its intermediates.
    @Test func resnetArenaIsLessThanHalfTheIntermediates() throws {
        guard let entry = ExecutorFixtures.entry("resnet_tiny") else { return }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let executor = try GraphExecutor(graph: graph)
        let plan = executor.memoryPlan
        print("resnet_tiny: \(plan.summary)")
        #expect(plan.arenaBytes * 2 < plan.intermediateBytes)
        #expect(plan.arenaBytes % 64 == 0)
        #expect(plan.unplannedCount == 0)
    }

    /// One context reused: each run's outputs are the caller's; the next run does not change them.
    @Test func outputsSurviveTheNextRun() throws {
        guard let entry = ExecutorFixtures.entry("resnet_tiny") else { return }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let inputs = try #require(try entry.inputSets().first?.inputs)
        let executor = try GraphExecutor(graph: graph)
        let context = executor.makeContext()
        let first = try context.run(inputs)
        var other = inputs
        for (name, tensor) in inputs where tensor.dtype == .float32 {
            other[name] = Tensor(shape: tensor.shape, scalars: tensor.scalars(as: Float.self).map { $0 * -2 + 1 })
        }
        let second = try context.run(other)
        #expect(!ExecutorFixtures.identical(first, second))
        #expect(ExecutorFixtures.identical(first, try Interpreter(graph: graph).run(inputs)))
        #expect(ExecutorFixtures.identical(second, try Interpreter(graph: graph).run(other)))
        for name in second.keys { #expect(try context.output(name) == second[name]) }
        #expect(context.copiedOutputs == 0)
    }

    /// 2 threads × 100 runs on one loaded artifact give the serial results.
    @Test(arguments: [ExecutorKind.graph, .vm])
    func concurrentRunsMatchSerialRuns(kind: ExecutorKind) throws {
        guard let entry = ExecutorFixtures.entry("resnet_tiny") else { return }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let artifact = try ExecutorFixtures.artifact(for: graph)
        let executor = try artifact.makeExecutor(kind)
        let inputs = try #require(try entry.inputSets().first?.inputs)
        let serial = try executor.run(inputs)
        let results = ResultBox(count: 2)
        DispatchQueue.concurrentPerform(iterations: 2) { thread in
            var identical = 0
            let context = (executor as? GraphExecutor)?.makeContext()
            for _ in 0..<100 {
                let outputs = try? context.map { try $0.run(inputs) } ?? executor.run(inputs)
                if let outputs, ExecutorFixtures.identical(outputs, serial) { identical += 1 }
            }
            results.set(thread, identical)
        }
        #expect(results.values == [100, 100])
    }

    /// The graph executor refuses control flow and dynamic inputs with a stable code; auto picks the VM.
    @Test func graphExecutorRefusesWhatItCannotRun() throws {
        for name in ["if_model", "loop_model"] {
            guard let entry = ExecutorFixtures.entry(name) else { continue }
            let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
            #expect(errorCode { _ = try GraphExecutor(graph: graph) } == .executorUnsupported)
            #expect(try ExecutorKind.auto.makeExecutor(for: graph).kindName == "vm")
        }
        guard let entry = ExecutorFixtures.entry("dynamic_shapes") else { return }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        #expect(errorCode { _ = try GraphExecutor(graph: graph) } == .executorUnsupported)
        #expect(try ExecutorKind.auto.makeExecutor(for: graph).kindName == "vm")
    }

    /// The VM runs `If` both ways, `Loop`, and one program over two input shapes.
    @Test(arguments: ["if_model", "loop_model", "dynamic_shapes"])
    func vmRunsControlFlowAndDynamicShapes(name: String) throws {
        guard let entry = ExecutorFixtures.entry(name) else { return }
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let vm = try VirtualMachine(graph: graph)
        let sets = try entry.inputSets()
        if name != "loop_model" { #expect(sets.count >= 2) }
        for (inputs, expected) in sets {
            let outputs = try vm.run(inputs)
            #expect(ExecutorFixtures.identical(outputs, try Interpreter(graph: graph).run(inputs)))
            for (output, tensor) in expected {
                #expect(ExecutorFixtures.relativeError(try #require(outputs[output]), tensor) <= 1e-4)
            }
        }
    }

    /// A wrong input shape for the plan is a clear error.
    @Test func aPlanRefusesAnotherInputShape() throws {
        #expect(errorCode { _ = try GraphExecutor(graph: SampleGraphs.convolution()) } == .executorUnsupported)
        let executor = try GraphExecutor(graph: SampleGraphs.convolution(), inputShapes: ["x": [1, 3, 4, 4]])
        let context = executor.makeContext()
        let input = try #require(executor.graph.inputs.first.map { executor.graph[$0] })
        let shape = try #require(input.type.staticShape)
        #expect(shape == [1, 3, 4, 4])
        #expect(errorCode { try context.setInput(input.name, Tensor(zeros: shape.map { $0 + 1 }, dtype: .float32)) } == .inputShapeMismatch)
        #expect(errorCode { try context.run() } == .missingInput)
        #expect(errorCode { try context.setInput("nope", Tensor(zeros: shape, dtype: .float32)) } == .unknownInput)
    }
}

/// Results written from several threads.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Int]

    init(count: Int) { stored = [Int](repeating: -1, count: count) }

    func set(_ index: Int, _ value: Int) {
        lock.lock()
        stored[index] = value
        lock.unlock()
    }

    var values: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}
