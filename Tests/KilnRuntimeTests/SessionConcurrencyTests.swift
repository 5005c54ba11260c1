import Foundation
import KilnCore
import KilnIR
import KilnQuant
import KilnRuntime
import KilnTargets
import KilnTestSupport
import Testing

/// A calibrated artifact's executor (CPU kernels and DPU programs on the emulator) shared by
/// two threads gives the serial outputs.
@Suite struct SessionConcurrencyTests {
    @Test(arguments: [ExecutorKind.graph, .vm])
    func twoThreadsGiveTheSerialOutputs(kind: ExecutorKind) throws {
        let target = try Catalog.architecture(named: SessionFixtures.targetName)
        let model = try SessionFixtures.shippedModel()
        let samples = SessionFixtures.samples(from: model.feed, count: 4)
        let uncalibrated = try ModelCompiler.compile(model.graph, modelSHA256: model.sha256, architecture: target)
        var config = QuantizationConfig()
        config.target = target
        let (compiled, _) = try ModelCompiler.calibrate(
            uncalibrated.artifact, calibration: try CalibrationSet(samples: samples, for: model.graph), config: config,
            architecture: target)
        #expect(compiled.subgraphs.contains { $0.device == .dpu })
        let executor = try compiled.artifact.makeExecutor(kind)
        let probes = SessionFixtures.samples(from: model.feed, count: 3, seed: 3)
        let serial = try probes.map { try executor.run($0) }
        let mismatches = Counter()
        DispatchQueue.concurrentPerform(iterations: 2) { thread in
            for run in 0..<10 {
                let index = (run + thread) % probes.count
                guard let outputs = try? executor.run(probes[index]) else {
                    mismatches.increment()
                    continue
                }
                for (name, tensor) in serial[index]
                where outputs[name].map({ SessionFixtures.maxDifference($0, tensor) }) != 0 {
                    _ = name
                    mismatches.increment()
                }
            }
        }
        #expect(mismatches.value == 0)
    }
}

/// A count shared by threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
