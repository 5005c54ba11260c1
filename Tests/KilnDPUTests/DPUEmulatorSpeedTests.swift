import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnONNX
import KilnPasses
import KilnQuant
import KilnTargets
import KilnTestSupport
import Testing

/// Emulator latency on the ResNet- and MobileNetV2-style models (reference models and the
/// zoo's, quantized for B4096 on one random sample): printed, never bounded. Runs when
/// `KILN_DPU_BENCH=1` (build with `-c release -Xswiftc -enable-testing` for meaningful numbers).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["KILN_DPU_BENCH"] == "1", "set KILN_DPU_BENCH=1"))
struct DPUEmulatorSpeedTests {
    static func graph(_ name: String) throws -> (Graph, [String: Tensor]) {
        if let entry = ReferenceModels.manifest.first(where: { $0.name == name }) {
            let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
            return (graph, try #require(try entry.inputSets().first?.inputs))
        }
        let entry = try #require(ZooModels.manifest[name])
        let graph = try ONNXImporter.importModel(contentsOf: ZooModels.directory.appendingPathComponent(entry.model)).graph
        var generator = SplitMix(seed: 5)
        let input = Tensor(
            shape: [1, 3, 224, 224], scalars: (0..<(3 * 224 * 224)).map { _ in Float(generator.next(in: -100...100)) / 50 })
        return (graph, [graph[graph.inputs[0]].name: input])
    }

    @Test(arguments: ["resnet_tiny", "mobilenetv2_tiny", "resnet18", "mobilenetv2"])
    func emulatorLatency(_ name: String) throws {
        let architecture = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
        let (graph, feed) = try Self.graph(name)
        var config = QuantizationConfig()
        config.target = architecture
        let model = try Quantizer.quantize(graph, calibration: try CalibrationSet(samples: [feed], for: graph), config: config)
        let partitioned = try partition(model.graph, annotation: annotate(model.graph, for: architecture))
        for threads in [1, 2] {
            var total = Duration.zero
            var macs = 0
            for node in partitioned.graph.nodes where node.op == .dpuSubgraph {
                let body = try #require(try node.attributes.graph("body"))
                let program = try DPUCompiler.compile(subgraph: body, plan: model.plan, architecture: architecture)
                let emulator = try DPUEmulator(program: program, threads: threads)
                var inputs: [String: Tensor] = [:]
                for index in program.inputs {
                    let buffer = program.buffers[index]
                    inputs[buffer.name] = Tensor(shape: buffer.shape, scalars: [Int8](repeating: 3, count: buffer.count))
                }
                _ = try emulator.run(inputs)
                let runs = 3
                let start = ContinuousClock.now
                for _ in 0..<runs { _ = try emulator.run(inputs) }
                total += (ContinuousClock.now - start) / runs
                macs += program.layers.reduce(0) { sum, layer in
                    guard case .conv(let conv) = layer.operation else { return sum }
                    let out = program.buffers[layer.output]
                    let perOutput = conv.kernel.reduce(1, *) * (conv.isDepthwise ? 1 : conv.inputChannels)
                    return sum + out.count * perOutput
                }
            }
            let ms = Double(total.components.seconds) * 1e3 + Double(total.components.attoseconds) * 1e-15
            print(String(format: "emulator %@ B4096 threads %d: %.2f ms (%.2f GMAC/s)", name, threads, ms, Double(macs) / ms / 1e6))
        }
    }
}
