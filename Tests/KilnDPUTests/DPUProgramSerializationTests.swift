import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnQuant
import KilnTargets
import Testing

/// Program bytes: round trip, truncated and corrupted bytes (an error, never a crash), and
/// the fingerprint check.
@Suite struct DPUProgramSerializationTests {
    /// A conv + relu, max pool, add and flatten program.
    static func program(target: String = "DPUCZDX8G_ISA1_B1600") throws -> (DPUProgram, DPUOpHarness) {
        var h = DPUOpHarness(seed: 77)
        let x = h.activation("x", [1, 3, 6, 5], position: 5)
        let w = h.constant("w", [4, 3, 3, 3], h.integers(108), position: 7)
        let b = h.constant("b", [4], h.integers(4), position: 8)
        let mid = h.graph.addValue(Value(name: "c", type: TensorType(dtype: .float32, shape: [1, 4, 6, 5])))
        let r = h.activation("r", [1, 4, 6, 5], position: 4)
        let m = h.activation("m", [1, 4, 3, 2], position: 4)
        let s = h.activation("s", [1, 4, 3, 2], position: 3)
        let y = h.activation("y", [1, 24], position: 3)
        h.node("conv", .conv, [x, w, b], [mid], ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])])
        h.node("relu", .relu, [mid], [r])
        h.node("pool", .maxPool, [r], [m], ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
        h.node("add", .add, [m, m], [s])
        h.node("flat", .flatten, [s], [y], ["axis": .int(1)])
        h.graph.inputs = [x]
        h.graph.outputs = [y]
        h.plan.tensors["m"] = .fixPosition(4, roundMode: .halfUp)
        h.plan.layers = [
            LayerQuantization(
                name: "conv", kind: .conv, nodes: ["conv", "relu"], inputs: ["x"], weight: "w", bias: "b", output: "r",
                activation: .relu),
            LayerQuantization(name: "add", kind: .add, nodes: ["add"], inputs: ["m", "m"], output: "s"),
        ]
        let architecture = try Catalog.architecture(named: target)
        return (try DPUCompiler.compile(subgraph: h.graph, plan: h.plan, architecture: architecture), h)
    }

    @Test func roundTrip() throws {
        let (program, h) = try Self.program()
        let bytes = try program.serialized()
        let decoded = try DPUProgram(serialized: bytes)
        #expect(decoded == program)
        let input = Tensor(shape: [1, 3, 6, 5], scalars: (0..<90).map { Int8(truncatingIfNeeded: $0 * 37) })
        let a = try DPUEmulator(program: program).run(["x": input])
        let b = try DPUEmulator(program: decoded, threads: 3).run(["x": input])
        #expect(a["y"] == b["y"])
        // Floats in, floats out, positional (a runtime subgraph call).
        let floats = Tensor(shape: [1, 3, 6, 5], scalars: input.scalars(as: Int8.self).map { Float($0) / 32 })
        let positional = try DPUEmulator(program: program).runDequantized([floats])
        let expected = try #require(a["y"]).scalars(as: Int8.self).map { Float($0) / 8 }
        #expect(positional.count == 1 && positional.first?.scalars(as: Float.self) == expected)
        let cost = program.cost(on: try Catalog.architecture(named: "DPUCZDX8G_ISA1_B1600"))
        #expect(cost.instructionCounts["CONV"] ?? 0 >= 1)
        #expect(cost.loadBytes > 0 && cost.storeBytes > 0 && cost.computeCycles > 0)
        #expect(cost.predictedSeconds != nil)
        #expect(program.listing.contains("CONV"))
        #expect(program.listing.split(separator: "\n").count == program.instructions.count + 3)
        _ = h
    }

    @Test func truncatedBytesAreErrors() throws {
        let bytes = try Self.program().0.serialized()
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            #expect(throws: KilnError.self) { try DPUProgram(serialized: bytes.prefix(length)) }
        }
    }

    @Test func corruptBytesAreErrorsNeverCrashes() throws {
        let bytes = [UInt8](try Self.program().0.serialized())
        var generator = SplitMix(seed: 9)
        var decoded = 0
        for _ in 0..<600 {
            var corrupt = bytes
            for _ in 0..<generator.next(in: 1...4) {
                let at = generator.next(in: 0...(corrupt.count - 1))
                corrupt[at] = UInt8(truncatingIfNeeded: generator.next())
            }
            // Either an error, or a consistent program that runs without a crash.
            guard let program = try? DPUProgram(serialized: Data(corrupt)) else { continue }
            decoded += 1
            if let emulator = try? DPUEmulator(program: program) {
                let feeds = Dictionary(
                    uniqueKeysWithValues: program.inputs.map { index in
                        let buffer = program.buffers[index]
                        return (
                            buffer.name, Tensor(shape: buffer.shape, scalars: [Int8](repeating: 1, count: buffer.count))
                        )
                    })
                _ = try? emulator.run(feeds)
            }
        }
        print("corrupt programs: \(decoded) of 600 still decoded (blob bytes or harmless JSON digits) and ran")
        // A wrong magic and a newer version are errors with the malformed code.
        var wrong = bytes
        wrong[0] = 0x41
        #expect(throws: KilnError.self) { try DPUProgram(serialized: Data(wrong)) }
        var newer = bytes
        newer[8] = 99
        do {
            _ = try DPUProgram(serialized: Data(newer))
            Issue.record("a newer version decoded")
        } catch let error as KilnError {
            #expect(error.code == .dpuProgramMalformed)
        }
    }

    @Test func fingerprintMismatchIsAnError() throws {
        let (program, _) = try Self.program(target: "DPUCZDX8G_ISA1_B1600")
        let other = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
        do {
            _ = try DPUEmulator(program: program, architecture: other)
            Issue.record("a B1600 program ran as B4096")
        } catch let error as KilnError {
            #expect(error.code == .dpuTargetMismatch)
        }
        // Recompiled for the other target, it runs — with another tiling and the same numbers.
        let (recompiled, _) = try Self.program(target: "DPUCZDX8G_ISA1_B4096")
        #expect(recompiled.fingerprint == other.fingerprint)
        let input = Tensor(shape: [1, 3, 6, 5], scalars: (0..<90).map { Int8(truncatingIfNeeded: $0 * 11 - 40) })
        let a = try DPUEmulator(program: recompiled, architecture: other).run(["x": input])
        let b = try DPUEmulator(program: program).run(["x": input])
        #expect(a["y"] == b["y"])
    }

    @Test func missingFixPositionNamesTheNode() throws {
        var (_, h) = try Self.program()
        h.plan.tensors["m"] = nil
        do {
            _ = try DPUCompiler.compile(
                subgraph: h.graph, plan: h.plan, architecture: try Catalog.architecture(named: "DPUCZDX8G_ISA1_B512"))
            Issue.record("compiled without a fix position")
        } catch let error as KilnError {
            #expect(error.code == .dpuNoFixPosition)
            #expect(error.message.contains("pool"))
        }
    }
}
