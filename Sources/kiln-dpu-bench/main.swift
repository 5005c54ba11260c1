import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnONNX
import KilnPasses
import KilnQuant
import KilnTargets
import KilnTestSupport

// DPU emulator latency (release builds only): each model quantized for a target on one
// sample, partitioned, every dpu_subgraph compiled; the emulator's time per inference
// (sum over subgraphs, best of the runs) at each thread count, and a per-instruction-kind
// profile at one thread.
//
//     swift build -c release --product kiln-dpu-bench
//     KILN_MODEL_DATA=… KILN_ZOO_DATA=… .build/release/kiln-dpu-bench [--runs 5] [--profile] model…

var arguments = Array(CommandLine.arguments.dropFirst())
var runs = 5
var showProfile = false
var target = "DPUCZDX8G_ISA1_B4096"
var threadCounts = [1, 2]
var names: [String] = []
while let argument = arguments.first {
    arguments.removeFirst()
    switch argument {
    case "--runs": runs = Int(arguments.removeFirst()) ?? runs
    case "--profile": showProfile = true
    case "--target": target = arguments.removeFirst()
    case "--threads": threadCounts = arguments.removeFirst().split(separator: ",").compactMap { Int($0) }
    default: names.append(argument)
    }
}

/// A deterministic generator for the zoo models' sample input.
struct Generator {
    var state: UInt64
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(Int(z % 201) - 100) / 50
    }
}

func load(_ name: String) throws -> (Graph, [String: Tensor]) {
    if let entry = ReferenceModels.manifest.first(where: { $0.name == name }) {
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        guard let feed = try entry.inputSets().first?.inputs else { throw KilnError(.missingInput, "\(name): no inputs") }
        return (graph, feed)
    }
    let zoo = ProcessInfo.processInfo.environment["KILN_ZOO_DATA"] ?? "build-data/zoo"
    let graph = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: zoo).appendingPathComponent("\(name).onnx"))
        .graph
    var generator = Generator(state: 5)
    let input = Tensor(shape: [1, 3, 224, 224], scalars: (0..<(3 * 224 * 224)).map { _ in generator.next() })
    return (graph, [graph[graph.inputs[0]].name: input])
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e3 + Double(duration.components.attoseconds) * 1e-15
}

if names.isEmpty || names.contains("--help") || names.contains("-h") {
    print("usage: kiln-dpu-bench [--runs N] [--profile] [--target T] [--threads 1,2] MODEL…  (reference or zoo model names)")
    exit(names.isEmpty ? 1 : 0)
}

do {
    try benchmark()
} catch {
    // One line and a non-zero status, like the kiln CLI: no crash on a bad name or target.
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}

/// Quantizes, partitions and compiles each named model, then times its programs.
@MainActor func benchmark() throws {
    let architecture = try Catalog.architecture(named: target)
    for name in names {
        let (graph, feed) = try load(name)
        var config = QuantizationConfig()
        config.target = architecture
        let model = try Quantizer.quantize(graph, calibration: try CalibrationSet(samples: [feed], for: graph), config: config)
        let partitioned = try partition(model.graph, annotation: annotate(model.graph, for: architecture))
        var programs: [DPUProgram] = []
        for node in partitioned.graph.nodes where node.op == .dpuSubgraph {
            guard let body = try node.attributes.graph("body") else { continue }
            programs.append(try DPUCompiler.compile(subgraph: body, plan: model.plan, architecture: architecture))
        }
        for threads in threadCounts {
            var total = Duration.zero
            var profile: [String: Duration] = [:]
            for program in programs {
                let emulator = try DPUEmulator(program: program, threads: threads)
                var inputs: [String: Tensor] = [:]
                for index in program.inputs {
                    let buffer = program.buffers[index]
                    var generator = Generator(state: UInt64(index))
                    inputs[buffer.name] = Tensor(
                        shape: buffer.shape, scalars: (0..<buffer.count).map { _ in Int8(generator.next() * 50) })
                }
                _ = try emulator.run(inputs)
                var best = Duration.seconds(1000)
                for _ in 0..<runs {
                    let start = ContinuousClock.now
                    _ = try emulator.run(inputs)
                    best = min(best, ContinuousClock.now - start)
                }
                total += best
                if showProfile && threads == threadCounts.first {
                    // The mean of `runs` profiled runs (one is too noisy at microseconds).
                    for _ in 0..<runs {
                        profile.merge(try emulator.profile(inputs).mapValues { $0 / runs }) { $0 + $1 }
                    }
                }
            }
            print(String(format: "%@ %@ subgraphs %d threads %d: %.4f ms", name, target, programs.count, threads, milliseconds(total)))
            for (kind, time) in profile.sorted(by: { $0.value > $1.value }) {
                print(String(format: "    %-20@ %8.3f ms", kind, milliseconds(time)))
            }
        }
    }
}
