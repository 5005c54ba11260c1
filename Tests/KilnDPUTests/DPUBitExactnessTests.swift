import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnONNX
import KilnPasses
import KilnTargets
import KilnTestSupport
import Testing

@testable import KilnQuant

/// The bit-exactness check: each reference model (and the digits CNN) quantized with
/// the DPU scheme for a target and partitioned; every `dpu_subgraph` compiled for that
/// target and run on the emulator with its inputs as the fake-quant simulation computed
/// them; every output integer equals the simulation's. Per model and target the element
/// counts compared are printed; subgraphs the compiler refuses are printed with the reason.
@Suite(.serialized) struct DPUBitExactnessTests {
    static let targets = [
        "DPUCZDX8G_ISA1_B512", "DPUCZDX8G_ISA1_B1600", "DPUCZDX8G_ISA1_B4096", "DPUCVDX8G_ISA3_C32B6",
        "DPUCV2DX8G_ISA1_C20B1",
    ]
    /// Models whose every DPU subgraph must compile.
    static let mustCompile: Set<String> = ["resnet_tiny", "mobilenetv2_tiny", "digits_cnn"]
    static let models = [
        "resnet_tiny", "mobilenetv2_tiny", "hardswish_net", "detector_head", "silu_net", "uneven_depthwise",
        "transformer_block",
    ]

    struct Case: CustomStringConvertible, Sendable {
        var model: String
        var target: String
        var description: String { "\(model) @ \(target)" }
    }

    static func cases() -> [Case] {
        let available = Set(ReferenceModels.manifest.map(\.name))
        let names = models.filter(available.contains) + (digitsAvailable ? ["digits_cnn"] : [])
        return names.flatMap { model in targets.map { Case(model: model, target: $0) } }
    }

    static var digitsDirectory: URL {
        if let path = ProcessInfo.processInfo.environment["KILN_DIGITS_DATA"] { return URL(fileURLWithPath: path) }
        return PythonReference.root.appendingPathComponent("build-data/digits")
    }

    static var digitsAvailable: Bool {
        FileManager.default.fileExists(atPath: digitsDirectory.appendingPathComponent("calib.npz").path)
    }

    /// The float graph, calibration samples and one input feed.
    static func load(_ model: String) throws -> (Graph, [[String: Tensor]], [String: Tensor]) {
        if model == "digits_cnn" {
            let graph = try ONNXImporter.importModel(
                contentsOf: PythonReference.root.appendingPathComponent("Examples/digits_cnn.onnx")
            ).graph
            let calibration = try CalibrationSet.load(
                contentsOf: digitsDirectory.appendingPathComponent("calib.npz"), for: graph, limit: 16)
            let feed = try #require(calibration.samples.last)
            return (graph, calibration.samples, feed)
        }
        let entry = try #require(ReferenceModels.manifest.first { $0.name == model })
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let feed = try #require(try entry.inputSets().first?.inputs)
        // Calibration: the reference input and two scaled copies (wider ranges than one sample).
        let scaled = [0.5, 1.5].map { factor in
            feed.mapValues { tensor in
                tensor.dtype == .float32
                    ? Tensor(shape: tensor.shape, scalars: tensor.scalars(as: Float.self).map { $0 * Float(factor) })
                    : tensor
            }
        }
        return (graph, [feed] + scaled, feed)
    }

    @Test(arguments: cases())
    func emulatorEqualsQuantSim(_ testCase: Case) throws {
        let architecture = try Catalog.architecture(named: testCase.target)
        let (graph, samples, feed) = try Self.load(testCase.model)
        var config = QuantizationConfig()
        config.target = architecture
        let quantized = try Quantizer.quantize(
            graph, calibration: try CalibrationSet(samples: samples, for: graph), config: config)
        // Every value as the simulation computed it.
        let captured = CapturedValues()
        _ = try SimulationProgram(graph: quantized.graph, plan: quantized.plan).run(feed, threads: 1) { name, tensor in
            captured.set(name, tensor)
        }
        let partitioned = try partition(quantized.graph, annotation: annotate(quantized.graph, for: architecture))
        var compared = 0
        var mismatches = 0
        var compiled = 0
        var refused: [String] = []
        var instructions = 0
        var everyCompared = 0
        var everyMismatch = 0
        for node in partitioned.graph.nodes where node.op == .dpuSubgraph {
            let body = try #require(try node.attributes.graph("body"))
            let program: DPUProgram
            do {
                program = try DPUCompiler.compile(subgraph: body, plan: quantized.plan, architecture: architecture)
            } catch let error as KilnError {
                // Only nodes the quantizer left float (no integer pipeline) may be refused.
                #expect(error.code == .dpuUnsupportedNode, "\(error)")
                refused.append("\(node.name): \(error.message)")
                continue
            }
            compiled += 1
            instructions += program.instructions.count
            let emulator = try DPUEmulator(program: program, architecture: architecture, threads: 2)
            var inputs: [String: Tensor] = [:]
            for index in program.inputs {
                let buffer = program.buffers[index]
                let value = try #require(captured.get(buffer.name), "no simulated value for '\(buffer.name)'")
                inputs[buffer.name] = Self.integers(value, position: buffer.fixPosition)
            }
            // Every feature map of the program (intermediates too), against the simulation's value.
            let dumped = try emulator.dump(inputs)
            let outputNames = Set(program.outputs.map { program.buffers[$0].name })
            for buffer in program.buffers where buffer.constant == nil {
                guard let simulated = captured.get(buffer.name) else { continue }
                let expected = Self.integers(simulated, position: buffer.fixPosition)
                let actual = try #require(dumped[buffer.name])
                #expect(actual.shape == expected.shape)
                let (a, e) = (actual.scalars(as: Int8.self), expected.scalars(as: Int8.self))
                let bad = zip(a, e).filter { $0 != $1 }.count
                if bad > 0 { print("  \(testCase): '\(buffer.name)' \(bad) of \(e.count) integers differ") }
                if outputNames.contains(buffer.name) {
                    compared += e.count
                    mismatches += bad
                }
                everyCompared += e.count
                everyMismatch += bad
            }
        }
        print(
            "bit-exactness \(testCase.model) @ \(testCase.target): \(compiled) subgraph(s) compiled, "
                + "\(instructions) instructions; subgraph outputs: \(compared) integers compared, \(mismatches) mismatching; "
                + "all feature maps: \(everyCompared) compared, \(everyMismatch) mismatching"
                + (refused.isEmpty ? "" : "; not compiled: " + refused.joined(separator: "; ")))
        let unquantizable = quantized.report.warnings.filter { $0.contains("without an integer pipeline") }
        if !unquantizable.isEmpty {
            print("  \(testCase): quantizer warnings: " + unquantizable.joined(separator: "; "))
        }
        #expect(mismatches == 0)
        #expect(everyMismatch == 0)
        if Self.mustCompile.contains(testCase.model) {
            #expect(refused.isEmpty)
            #expect(compared > 0)
        }
    }

    /// The integers of a float tensor on the grid of `position`, as int8.
    static func integers(_ tensor: Tensor, position: Int) -> Tensor {
        let scale = exp2(Double(position))
        return Tensor(
            shape: tensor.shape,
            scalars: tensor.doubleScalars().map { Int8(clamping: Int(($0 * scale).rounded())) })
    }
}

/// Values captured from a simulation run (the hook is `@Sendable`).
final class CapturedValues: @unchecked Sendable {
    private var values: [String: Tensor] = [:]
    private let lock = NSLock()

    func set(_ name: String, _ tensor: Tensor) {
        lock.lock()
        values[name] = tensor
        lock.unlock()
    }

    func get(_ name: String) -> Tensor? {
        lock.lock()
        defer { lock.unlock() }
        return values[name]
    }
}
