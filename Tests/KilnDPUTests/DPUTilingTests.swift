import Foundation
import KilnCore
import KilnIR
import KilnQuant
import KilnTargets
import Testing

@testable import KilnDPU

/// The result never depends on the tiling: the same layers compiled with banks so small
/// that every layer is cut into many row and channel tiles give the same integers.
@Suite struct DPUTilingTests {
    @Test(arguments: 0..<4)
    func tinyBanksGiveTheSameIntegers(_ seed: Int) throws {
        var h = DPUOpHarness(seed: UInt64(7000 + seed))
        let (c, oc, height, width) = (5 + seed, 19 + 3 * seed, 9 + seed, 7)
        let x = h.activation("x", [1, c, height, width], position: 5)
        let w = h.constant("w", [oc, c, 3, 3], h.integers(oc * c * 9), position: 7)
        let b = h.constant("b", [oc], h.integers(oc), position: 8)
        let dw = h.constant("dw", [oc, 1, 3, 3], h.integers(oc * 9), position: 6)
        let mid = h.graph.addValue(Value(name: "c", type: TensorType(dtype: .float32, shape: [1, oc, height, width])))
        let r = h.activation("r", [1, oc, height, width], position: 4)
        let d = h.activation("d", [1, oc, height, width], position: 3)
        let a = h.activation("a", [1, oc, height, width], position: 3)
        let y = h.activation("y", [1, oc, height / 2, width / 2], position: 3)
        h.node("conv", .conv, [x, w, b], [mid], ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])])
        h.node("relu", .relu, [mid], [r])
        h.node(
            "dw", .conv, [r, dw], [d],
            ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "group": .int(oc)])
        h.node("add", .add, [d, r], [a])
        h.node("pool", .averagePool, [a], [y], ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
        h.graph.inputs = [x]
        h.graph.outputs = [y, a]
        h.plan.layers = [
            LayerQuantization(
                name: "conv", kind: .conv, nodes: ["conv", "relu"], inputs: ["x"], weight: "w", bias: "b", output: "r",
                activation: .relu),
            LayerQuantization(name: "dw", kind: .conv, nodes: ["dw"], inputs: ["r"], weight: "dw", output: "d"),
            LayerQuantization(name: "add", kind: .add, nodes: ["add"], inputs: ["d", "r"], output: "a"),
            LayerQuantization(name: "pool", kind: .averagePool, nodes: ["pool"], inputs: ["a"], output: "y"),
        ]
        let architecture = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B512")
        let whole = try DPUCompiler.compile(subgraph: h.graph, plan: h.plan, architecture: architecture)
        var small = whole.geometry
        small.featureBankBytes = 3 * width * 32 + width * 32
        small.weightBankBytes = 9 * 8 * 8 + 8 * 2
        small.depthwiseBankBytes = 9 * 8 + 8
        let tiled = try DPUCompiler.compile(
            subgraph: h.graph, plan: h.plan, architecture: architecture, geometry: small)
        let convTiles = { (program: DPUProgram) in program.instructions.filter { $0.opcode == .conv }.count }
        #expect(convTiles(tiled) > convTiles(whole))
        print(
            "tiling seed \(seed): \(convTiles(whole)) → \(convTiles(tiled)) CONV tiles, \(whole.instructions.count) → \(tiled.instructions.count) instructions"
        )
        let input = Tensor(shape: [1, c, height, width], scalars: h.integers(c * height * width).map { Int8($0) })
        let expected = try DPUEmulator(program: whole).dump(["x": input])
        let actual = try DPUEmulator(program: tiled, threads: 3).dump(["x": input])
        #expect(expected == actual)
        // One row that cannot fit is an error naming the layer.
        var tooSmall = small
        tooSmall.featureBankBytes = 8
        #expect(throws: KilnError.self) {
            try DPUCompiler.compile(subgraph: h.graph, plan: h.plan, architecture: architecture, geometry: tooSmall)
        }
    }

    /// A ResNet-sized layer tiles differently on B512 and B4096, with the same integers.
    @Test func architecturesTileDifferently() throws {
        var h = DPUOpHarness(seed: 8080)
        let (c, size) = (64, 28)
        let x = h.activation("x", [1, c, size, size], position: 4)
        let w = h.constant("w", [c, c, 3, 3], h.integers(c * c * 9, in: -20...20), position: 8)
        let y = h.activation("y", [1, c, size, size], position: 3)
        h.node("conv", .conv, [x, w], [y], ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])])
        h.graph.inputs = [x]
        h.graph.outputs = [y]
        h.plan.layers = [
            LayerQuantization(name: "conv", kind: .conv, nodes: ["conv"], inputs: ["x"], weight: "w", output: "y")
        ]
        let input = Tensor(shape: [1, c, size, size], scalars: h.integers(c * size * size).map { Int8($0) })
        var results: [[String: Tensor]] = []
        var counts: [Int] = []
        for target in ["DPUCZDX8G_ISA1_B512", "DPUCZDX8G_ISA1_B4096"] {
            let architecture = try Catalog.architecture(named: target)
            let program = try DPUCompiler.compile(subgraph: h.graph, plan: h.plan, architecture: architecture)
            counts.append(program.instructions.count)
            results.append(try DPUEmulator(program: program, architecture: architecture, threads: 2).run(["x": input]))
            let cost = program.cost(on: architecture)
            print(
                "\(target): \(program.instructions.count) instructions \(cost.instructionCounts), load \(cost.loadBytes) B, "
                    + "store \(cost.storeBytes) B, \(cost.computeCycles) cycles, predicted "
                    + String(format: "%.3f ms", (cost.predictedSeconds ?? 0) * 1e3))
        }
        #expect(counts[0] != counts[1])
        #expect(results[0] == results[1])
    }

    /// A global average pool over ResNet-50's last map (7×7×2048) does not fit B512's image
    /// banks in one piece: it is split into channel groups, with the same integers as B4096.
    @Test func largePoolsSplitChannels() throws {
        var h = DPUOpHarness(seed: 4242)
        let x = h.activation("x", [1, 2048, 7, 7], position: 4)
        let y = h.activation("y", [1, 2048, 1, 1], position: 4)
        h.node("gap", .globalAveragePool, [x], [y])
        h.graph.inputs = [x]
        h.graph.outputs = [y]
        h.plan.layers = [LayerQuantization(name: "gap", kind: .averagePool, nodes: ["gap"], inputs: ["x"], output: "y")]
        let input = Tensor(shape: [1, 2048, 7, 7], scalars: h.integers(2048 * 49).map { Int8($0) })
        var results: [[String: Tensor]] = []
        var pools: [Int] = []
        for target in ["DPUCZDX8G_ISA1_B512", "DPUCZDX8G_ISA1_B4096"] {
            let architecture = try Catalog.architecture(named: target)
            let program = try DPUCompiler.compile(subgraph: h.graph, plan: h.plan, architecture: architecture)
            pools.append(program.instructions.filter { $0.opcode == .pool }.count)
            results.append(try DPUEmulator(program: program, threads: 2).run(["x": input]))
        }
        #expect(pools[0] > pools[1])
        #expect(results[0] == results[1])
    }
}
