import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnONNX
import KilnPasses
import KilnTargets
import Testing

@testable import KilnQuant

/// The zoo architectures (ResNet-50, MobileNetV2, ResNet-18 at 224×224, random weights)
/// compile for every target: the DPU scheme's layers with fixed positions (no calibration —
/// positions do not change the tiling), every `dpu_subgraph` compiled. Prints per model and
/// target the instruction counts, DDR bytes and the program's predicted time next to the
/// layer-level performance model's DPU time.
@Suite(.enabled(if: ZooModels.shouldRun, "run Scripts/make_zoo_models.py build-data/zoo first"))
struct DPUZooCompileTests {
    static let targets = DPUBitExactnessTests.targets

    @Test(arguments: ["resnet50", "mobilenetv2", "resnet18"])
    func compilesForEveryTarget(_ model: String) throws {
        let entry = try #require(ZooModels.manifest[model])
        let imported = try ONNXImporter.importModel(contentsOf: ZooModels.directory.appendingPathComponent(entry.model))
        let (working, _) = try PassManager(InspectPipeline.preparation).run(
            imported.graph, context: PassContext(threads: 1))
        for target in Self.targets {
            let architecture = try Catalog.architecture(named: target)
            let partitioned = try partition(working, annotation: annotate(working, for: architecture))
            let structure = DPUStructure(working, placements: partitioned.placements)
            var plan = QuantizationPlan(scale: .pow2, target: target, method: .minmax, calibrationSamples: 0)
            for name in structure.activations { plan.tensors[name] = .fixPosition(4, roundMode: .halfUp) }
            for (name, role) in structure.constants {
                plan.tensors[name] = .fixPosition(role == .bias ? 5 : 7, roundMode: .halfAwayFromZero)
            }
            plan.layers = structure.layers
            var counts: [String: Int] = [:]
            var (load, store, cycles, seconds) = (0, 0, 0, 0.0)
            var subgraphs = 0
            for node in partitioned.graph.nodes where node.op == .dpuSubgraph {
                let body = try #require(try node.attributes.graph("body"))
                let program = try DPUCompiler.compile(subgraph: body, plan: plan, architecture: architecture)
                #expect(try DPUProgram(serialized: try program.serialized()) == program)
                let cost = program.cost(on: architecture)
                for (opcode, count) in cost.instructionCounts { counts[opcode, default: 0] += count }
                load += cost.loadBytes
                store += cost.storeBytes
                cycles += cost.computeCycles
                seconds += cost.predictedSeconds ?? 0
                subgraphs += 1
            }
            #expect(subgraphs > 0)
            let layerModel = DPUCostModel(architecture: architecture, board: nil).map {
                PerformanceModel.predict(partitioned.graph, with: $0).dpuMs
            }
            let instructions = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print(
                "\(model) @ \(target): \(subgraphs) subgraph(s); \(instructions); load \(load / 1024) KiB, store \(store / 1024) KiB, "
                    + "\(cycles) cycles; predicted "
                    + (seconds > 0 ? String(format: "%.2f ms", seconds * 1e3) : "n/a (parallelism or clock not public)")
                    + (layerModel.map { String(format: " (layer-level model: DPU %.2f ms)", $0) } ?? ""))
        }
    }
}
