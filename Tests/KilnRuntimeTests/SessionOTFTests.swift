import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnInterpreter
import KilnQuant
import KilnRuntime
import KilnTargets
import KilnTestSupport
import Testing

/// The seed-000 scenario: one uncalibrated artifact, on-the-fly quantization with N = 8 under
/// the graph executor and under the VM, both exported; the exports are equivalent, differ
/// from the uncalibrated artifact, run accelerated from their first input, and their
/// outputs equal the fake-quant simulation within the DPU's integer grid.
@Suite(.serialized) struct SessionOTFTests {
    static let quantSize = 8

    struct Run {
        var export: URL
        var artifact: Artifact
        var outputs: [[String: Tensor]]
        var quantized: QuantizedModel
        var timings: SessionTimings
    }

    /// Runs OTF under `executor` over `samples`, then `probes` accelerated; exports.
    static func otf(
        _ executor: ExecutorKind, model name: String, uncalibrated: URL, target: DPUArchitecture,
        samples: [[String: Tensor]],
        probes: [[String: Tensor]], directory: URL
    ) throws -> Run {
        let session = try InferenceSession(
            contentsOf: uncalibrated, target: target, options: SessionFixtures.options(executor, quantSize: quantSize))
        #expect(session.phase == .calibrating(observed: 0, of: quantSize))
        for (index, sample) in samples.enumerated() {
            #expect(session.phase == .calibrating(observed: index, of: quantSize))
            let outputs = try session.run(sample)
            #expect(!outputs.isEmpty)
        }
        #expect(session.phase == .accelerated)
        #expect(session.executorName == executor.rawValue)
        #expect(session.subgraphs.allSatisfy { $0.device == .dpu })
        let outputs = try probes.map { try session.run($0) }
        let export = directory.appendingPathComponent("otf-\(executor.rawValue).kiln")
        try session.export(to: export)
        let quantized = try #require(session.quantizedModel)
        print("OTF timings (\(name), N=\(quantSize), \(executor.rawValue) executor): \(session.timings.summary)")
        for event in session.events { print("  session event: \(event)") }
        return Run(
            export: export,
            artifact: try ArtifactReader.read(contentsOf: export, expectedFingerprint: target.fingerprint),
            outputs: outputs, quantized: quantized, timings: session.timings)
    }

    @Test(arguments: ["resnet_tiny", "mobilenetv2_tiny"])
    func seed000GraphAndVMExportsAreEquivalentAndAccelerated(modelName: String) throws {
        let target = try Catalog.architecture(named: SessionFixtures.targetName)
        let model = try SessionFixtures.model(modelName)
        let directory = try SessionFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let uncalibrated = try SessionFixtures.uncalibratedArtifact(model, in: directory, target: target)
        let uncalibratedBytes = try Data(contentsOf: uncalibrated)
        let samples = SessionFixtures.samples(from: model.feed, count: Self.quantSize)
        let probes = SessionFixtures.samples(from: model.feed, count: 3, seed: 1)

        let graph = try Self.otf(
            .graph, model: modelName, uncalibrated: uncalibrated, target: target, samples: samples, probes: probes,
            directory: directory)
        let vm = try Self.otf(
            .vm, model: modelName, uncalibrated: uncalibrated, target: target, samples: samples, probes: probes,
            directory: directory)

        // The exports changed: calibrated, with programs (seed 000's VM export did not).
        for run in [graph, vm] {
            #expect(try Data(contentsOf: run.export) != uncalibratedBytes)
            guard case .calibrated = run.artifact.header.quantization else {
                Issue.record("the export of OTF is not calibrated")
                continue
            }
            #expect(!SessionFixtures.programs(run.artifact).isEmpty)
        }
        // Equivalent: same header (plan, fix positions), same modules, identical program bytes.
        #expect(graph.artifact.header == vm.artifact.header)
        #expect(graph.quantized.plan == vm.quantized.plan)
        #expect(graph.artifact.tree.modules.map(\.name) == vm.artifact.tree.modules.map(\.name))
        #expect(graph.artifact.tree.modules.map(\.kind) == vm.artifact.tree.modules.map(\.kind))
        #expect(SessionFixtures.programs(graph.artifact) == SessionFixtures.programs(vm.artifact))
        let cpuGraph = try graph.artifact.entryModule().document
        let cpuVM = try vm.artifact.entryModule().document
        #expect(cpuGraph == cpuVM)
        #expect(graph.artifact.tree.root.constants == vm.artifact.tree.root.constants)
        // Identical outputs.
        for (a, b) in zip(graph.outputs, vm.outputs) {
            for (name, tensor) in a {
                #expect(SessionFixtures.maxDifference(tensor, try #require(b[name])) == 0, "output \(name)")
            }
        }
        print(
            "seed-000 exports (\(modelName)): \(try Data(contentsOf: graph.export).count) bytes (graph), "
                + "\(try Data(contentsOf: vm.export).count) bytes (vm), uncalibrated \(uncalibratedBytes.count) bytes; "
                + "byte-identical: \(try Data(contentsOf: graph.export) == Data(contentsOf: vm.export))")

        // Loading either export runs accelerated from the first input, no calibration,
        // under either executor, with the OTF session's outputs.
        for run in [graph, vm] {
            for kind in [ExecutorKind.graph, .vm] {
                let session = try InferenceSession(
                    contentsOf: run.export, target: target,
                    options: SessionFixtures.options(kind, quantSize: Self.quantSize))
                #expect(session.phase == .accelerated)
                let outputs = try session.run(probes[0])
                #expect(session.timings.calibrationRuns == 0)
                for (name, tensor) in outputs {
                    #expect(SessionFixtures.maxDifference(tensor, try #require(run.outputs[0][name])) == 0)
                }
            }
        }

        // Accelerated outputs equal QuantSim within the DPU's integer grid.
        for (probe, outputs) in zip(probes, graph.outputs) {
            let simulated = try QuantSim.run(graph.quantized, inputs: probe, threads: 2)
            for (name, tensor) in outputs {
                let expected = try #require(simulated[name])
                let position = graph.quantized.plan.tensors[name]?.fixPosition
                let step = position.map { exp2(Double(-$0)) } ?? 0
                let range = expected.doubleScalars().reduce(0) { max($0, abs($1)) }
                let tolerance = max(step, 1e-4 * range)
                let difference = SessionFixtures.maxDifference(tensor, expected)
                print(
                    "QuantSim vs accelerated, \(modelName) output \(name): max |diff| \(difference), grid step \(step)")
                #expect(difference <= tolerance, "output \(name): \(difference) > \(tolerance)")
            }
        }
    }

    @Test func uncalibratedArtifactRunsFloatBodiesAndSaysSo() throws {
        let target = try Catalog.architecture(named: SessionFixtures.targetName)
        let model = try SessionFixtures.model("resnet_tiny")
        let compiled = try ModelCompiler.compile(model.graph, modelSHA256: model.sha256, architecture: target)
        #expect(!compiled.subgraphs.isEmpty)
        #expect(compiled.subgraphs.allSatisfy { $0.device == .floatUncalibrated })
        // Plain execution of an uncalibrated artifact: the DPU subgraphs run their float bodies.
        for kind in [ExecutorKind.graph, .vm] {
            let outputs = try compiled.artifact.makeExecutor(kind).run(model.feed)
            let reference = try Interpreter(graph: model.graph).run(model.feed)
            for (name, tensor) in reference {
                #expect(SessionFixtures.maxDifference(tensor, try #require(outputs[name])) < 1e-4)
            }
        }
    }

    @Test func programForAnotherFingerprintRefusesToRunUnlessRecompiled() throws {
        let target = try Catalog.architecture(named: SessionFixtures.targetName)
        let other = try Catalog.architecture(named: SessionFixtures.otherTargetName)
        let model = try SessionFixtures.model("resnet_tiny")
        let directory = try SessionFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let calibration = try CalibrationSet(
            samples: SessionFixtures.samples(from: model.feed, count: 4), for: model.graph)
        var config = QuantizationConfig()
        config.target = target
        let quantized = try Quantizer.quantize(model.graph, calibration: calibration, config: config)
        let compiled = try ModelCompiler.compile(quantized, modelSHA256: model.sha256, architecture: target)
        let url = directory.appendingPathComponent("b4096.kiln")
        try ArtifactWriter.write(compiled.tree, header: compiled.header, to: url)

        #expect(throws: KilnError.self) {
            _ = try ArtifactReader.read(contentsOf: url, expectedFingerprint: other.fingerprint)
        }
        let loaded = try ArtifactReader.read(
            contentsOf: url, expectedFingerprint: other.fingerprint, allowRecompile: true)
        #expect(loaded.needsRecompile)
        #expect(errorCode { _ = try loaded.makeExecutor(.graph) } == .dpuTargetMismatch)
        #expect(
            errorCode { _ = try InferenceSession(artifact: loaded, target: other, options: SessionFixtures.options()) }
                == .fingerprintMismatch)
        var options = SessionFixtures.options()
        options.allowRecompile = true
        let session = try InferenceSession(artifact: loaded, target: other, options: options)
        #expect(session.phase == .accelerated)
        #expect(session.artifact.header.fingerprint == other.fingerprint)
        #expect(!SessionFixtures.programs(session.artifact).isEmpty)
        _ = try session.run(model.feed)
    }

    /// OTF over N samples == offline quantization over the same N: the quantizer on the
    /// imported ONNX graph gives the same plan, and `kiln compile --calib`'s path
    /// (``ModelCompiler/calibrate(_:calibration:config:architecture:progress:)``) the same
    /// header and program bytes.
    @Test func otfEqualsOfflineQuantizationOnTheSameSamples() throws {
        let target = try Catalog.architecture(named: SessionFixtures.targetName)
        let model = try SessionFixtures.model("resnet_tiny")
        let samples = SessionFixtures.samples(from: model.feed, count: Self.quantSize)
        let uncalibrated = try ModelCompiler.compile(model.graph, modelSHA256: model.sha256, architecture: target)
        let session = try InferenceSession(
            artifact: uncalibrated.artifact, target: target,
            options: SessionFixtures.options(.auto, quantSize: Self.quantSize))
        for sample in samples { _ = try session.run(sample) }
        let otf = try #require(session.quantizedModel)

        var config = QuantizationConfig()
        config.target = target
        let calibration = try CalibrationSet(samples: samples, for: model.graph)
        let offline = try Quantizer.quantize(model.graph, calibration: calibration, config: config)
        #expect(offline.plan == otf.plan)
        let fromOriginal = try ModelCompiler.compile(offline, modelSHA256: model.sha256, architecture: target)
        #expect(fromOriginal.header == session.artifact.header)
        #expect(SessionFixtures.programs(fromOriginal.artifact) == SessionFixtures.programs(session.artifact))

        let (compiled, _) = try ModelCompiler.calibrate(
            uncalibrated.artifact, calibration: calibration, config: config, architecture: target)
        #expect(compiled.header == session.artifact.header)
        #expect(
            try ArtifactWriter.encode(compiled.tree, header: compiled.header)
                == ArtifactWriter.encode(session.artifact.tree, header: session.artifact.header))
    }

    /// A bad input fails with the executors' runtime codes while calibrating too, and is not
    /// counted as a calibration sample.
    @Test func badInputsFailAlikeInEveryPhase() throws {
        let target = try Catalog.architecture(named: SessionFixtures.targetName)
        let model = try SessionFixtures.shippedModel()
        let uncalibrated = try ModelCompiler.compile(model.graph, modelSHA256: model.sha256, architecture: target)
        let session = try InferenceSession(
            artifact: uncalibrated.artifact, target: target, options: SessionFixtures.options(.graph, quantSize: 2))
        let (name, tensor) = try #require(model.feed.first)
        let wrongShape = Tensor(shape: [1] + tensor.shape, scalars: tensor.scalars(as: Float.self))
        let cases: [([String: Tensor], ErrorCode)] = [
            ([:], .missingInput), (model.feed.merging(["nope": tensor]) { a, _ in a }, .unknownInput),
            ([name: wrongShape], .inputShapeMismatch),
        ]
        for (inputs, code) in cases {
            #expect(errorCode { _ = try session.run(inputs) } == code)
        }
        #expect(session.phase == .calibrating(observed: 0, of: 2))
        for sample in SessionFixtures.samples(from: model.feed, count: 2) { _ = try session.run(sample) }
        #expect(session.phase == .accelerated)
        for (inputs, code) in cases {
            #expect(errorCode { _ = try session.run(inputs) } == code)
        }
        // The DPU needs power-of-two scales.
        var options = SessionFixtures.options()
        var config = QuantizationConfig()
        config.scale = .float
        options.quantization = config
        #expect(
            errorCode { _ = try InferenceSession(artifact: uncalibrated.artifact, target: target, options: options) }
                == .invalidQuantizationConfig)
    }
}
