import Foundation
import KilnCore
import KilnIR
import KilnQuant
import KilnRuntime
import KilnTargets
import KilnTestSupport
import Testing

/// ``DumpingSubgraphRunner`` gives the plain runner's outputs and hands every DPU call's
/// feature maps to its sink.
@Suite struct DumpingSubgraphRunnerTests {
    @Test(arguments: [ExecutorKind.graph, .vm])
    func dumpsEveryMapAndKeepsTheOutputs(kind: ExecutorKind) throws {
        let target = try Catalog.architecture(named: SessionFixtures.targetName)
        let model = try SessionFixtures.shippedModel()
        let samples = SessionFixtures.samples(from: model.feed, count: 4)
        let uncalibrated = try ModelCompiler.compile(model.graph, modelSHA256: model.sha256, architecture: target)
        let (compiled, quantized) = try ModelCompiler.calibrate(
            uncalibrated.artifact, calibration: try CalibrationSet(samples: samples, for: model.graph),
            config: QuantizationConfig(), architecture: target)
        let artifact = compiled.artifact
        let base = ModuleSubgraphRunner(tree: artifact.tree, floatBodies: true)
        let recorder = SubgraphDumpRecorder()
        let dumping = DumpingSubgraphRunner(base: base, sink: { recorder.record($0) })
        let probe = try #require(SessionFixtures.samples(from: model.feed, count: 1, seed: 5).first)
        let plain = try artifact.makeExecutor(kind, runner: base).run(probe)
        let dumped = try artifact.makeExecutor(kind, runner: dumping).run(probe)
        #expect(ExecutorFixtures.identical(plain, dumped))

        let dpuCalls = compiled.subgraphs.filter { $0.device == .dpu }
        #expect(recorder.dumps.count == dpuCalls.count && !dpuCalls.isEmpty)
        for dump in recorder.dumps {
            #expect(recorder.calls(of: dump.subgraph) == 1)
            let module = try #require(artifact.tree.modules.compactMap { $0 as? DPUModule }.first)
            let program = try #require(module.program(subgraph: dump.subgraph))
            let featureMaps = program.buffers.filter { $0.constant == nil }
            #expect(dump.maps.map(\.name) == featureMaps.map(\.name))
            for map in dump.maps {
                #expect(map.tensor.dtype == .int8)
                #expect(map.fixPosition == quantized.plan.tensors[map.name]?.fixPosition, "\(map.name)")
            }
            #expect(dump.maps.contains { $0.role == .input } && dump.maps.contains { $0.role == .output })
        }
    }
}
