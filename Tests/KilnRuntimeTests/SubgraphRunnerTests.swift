import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnPasses
import KilnRuntime
import KilnTargets
import KilnTestSupport
import Testing

/// The executors call accelerator subgraphs through the ``SubgraphRunner`` seam.
@Suite struct SubgraphRunnerTests {
    /// mobilenetv2_tiny partitioned for a DPU, in an artifact with its DPU module.
    static func partitionedArtifact() throws -> (original: Graph, artifact: Artifact, calls: Int) {
        let model = try ONNXImporter.importModel(
            contentsOf: ArtifactFixtures.root.appendingPathComponent("Examples/mobilenetv2_tiny.onnx"))
        let target = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
        let fingerprint = try #require(target.fingerprint)
        let partitioned = try InspectPipeline.inspect(model.graph, target: target).partition
        let programs = Dictionary(uniqueKeysWithValues: partitioned.subgraphs.map { ($0.id, Data("program \($0.id)".utf8)) })
        let tree = try ModuleTree(modules: [
            CPUModule(name: "cpu0", graph: partitioned.graph),
            DPUModule(name: "dpu0", fingerprint: fingerprint, programs: programs),
        ])
        var header = ArtifactFixtures.header()
        header.fingerprint = fingerprint
        let artifact = try ArtifactReader.decode(ArtifactWriter.encode(tree, header: header))
        return (model.graph, artifact, partitioned.subgraphs.count)
    }

    /// `outputs` equal the interpreter's on the partitioned graph and are close to the original's.
    static func check(_ outputs: [String: Tensor], artifact: Artifact, original: Graph, inputs: [String: Tensor]) throws {
        let partitioned = try #require(try artifact.entryModule().graph)
        #expect(ExecutorFixtures.identical(outputs, try Interpreter(graph: partitioned).run(inputs)))
        for (name, tensor) in try Interpreter(graph: original).run(inputs) {
            #expect(ExecutorFixtures.relativeError(try #require(outputs[name]), tensor) <= 1e-4)
        }
    }

    static func input(for graph: Graph) throws -> [String: Tensor] {
        let value = try #require(graph.inputs.first.map { graph[$0] })
        let shape = try #require(value.type.staticShape)
        let count = Tensor.elementCount(shape)
        return [value.name: Tensor(shape: shape, scalars: (0..<count).map { Float(($0 * 37) % 101) / 50 - 1 })]
    }

    /// With the test double running each subgraph's float body, both executors give the
    /// interpreter's outputs on the partitioned graph bit for bit (and the original model's
    /// closely: partitioning canonicalizes first, e.g. folds batch normalization).
    @Test(arguments: [ExecutorKind.graph, .vm])
    func subgraphCallsGoThroughTheRunner(kind: ExecutorKind) throws {
        let (original, artifact, calls) = try Self.partitionedArtifact()
        #expect(calls > 0)
        let inputs = try Self.input(for: original)
        let executor = try artifact.makeExecutor(kind, runner: InterpretingSubgraphRunner())
        let trace = TraceRecorder()
        let outputs = try executor.run(inputs, trace: trace)
        try Self.check(outputs, artifact: artifact, original: original, inputs: inputs)
        #expect(trace.slices.filter { $0.op.hasPrefix("dpu_subgraph") }.count == calls)
    }

    /// Without a runner for DPU programs, a call is `subgraphRunnerMissing`, naming the function.
    @Test(arguments: [ExecutorKind.graph, .vm])
    func aDPUCallWithoutARunnerIsAClearError(kind: ExecutorKind) throws {
        let (original, artifact, _) = try Self.partitionedArtifact()
        let executor = try artifact.makeExecutor(kind)
        let inputs = try Self.input(for: original)
        do {
            _ = try executor.run(inputs)
            Issue.record("ran a DPU subgraph without a runner")
        } catch let error as KilnError {
            #expect(error.code == .subgraphRunnerMissing)
            #expect(error.message.contains("dpu_subgraph_"))
        }
        #expect(errorCode { _ = try NoSubgraphRunner().run(SubgraphCall(id: 0, nodeName: "n", body: nil), inputs: [], threads: 1) }
            == .subgraphRunnerMissing)
    }

    /// A module made callable (here the test double wrapped as an ``Executable``) is found
    /// by symbol through the tree runner.
    @Test func executablesResolveBySymbol() throws {
        let (original, artifact, _) = try Self.partitionedArtifact()
        let cpu = try artifact.entryModule()
        let bodies = try #require(cpu.graph).nodes.filter { $0.op == .dpuSubgraph }.map { try SubgraphCall(id: $0.attributes.int("id") ?? -1, nodeName: $0.name, body: $0.attributes.graph("body")) }
        let runner = ModuleSubgraphRunner(tree: artifact.tree, executables: [InterpretedSubgraphs(calls: bodies)])
        let inputs = try Self.input(for: original)
        let outputs = try artifact.makeExecutor(.graph, runner: runner).run(inputs)
        try Self.check(outputs, artifact: artifact, original: original, inputs: inputs)
        let main = try artifact.makeExecutor(.vm, runner: runner)
        let positional = try main.invoke(CPUModule.entryFunction, Array(inputs.values))
        #expect(positional.count == original.outputs.count)
        #expect(errorCode { _ = try main.invoke("nope", []) } == .functionNotFound)
    }
}

/// TEST DOUBLE: exports `dpu_subgraph_<id>` for each call and interprets its float body.
struct InterpretedSubgraphs: Executable {
    let calls: [SubgraphCall]
    var functionSymbols: [String] { calls.map(\.symbol) }

    func invoke(_ symbol: String, _ inputs: [Tensor]) throws -> [Tensor] {
        guard let call = calls.first(where: { $0.symbol == symbol }) else {
            throw KilnError(.functionNotFound, "no \(symbol)")
        }
        return try InterpretingSubgraphRunner().run(call, inputs: inputs, threads: 1)
    }
}
