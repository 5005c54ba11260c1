import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnQuant
import KilnTestSupport
import Testing

@Suite struct BiasCorrectionTests {
    /// `relu(x) → gemm(·, W)` without a bias; `W`'s last column is below half a grid step
    /// (1/128), so it rounds to zero and its output loses `alpha · E[relu(x)] · Σ w`.
    static func gemmWithoutBias() throws -> Graph {
        try QuantTesting.graph { builder in
            builder.input("x", .float32, [4, 16])
            var weights = QuantTesting.random([16, 3], seed: 3).scalars(as: Float.self)
            for row in 0..<16 { weights[row * 3 + 2] = 0.0035 }
            builder.initializer("w", Tensor(shape: [16, 3], scalars: weights))
            builder.node("Relu", ["x"], ["r"], name: "relu")
            builder.node("Gemm", ["r", "w"], ["y"], name: "fc", attributes: ["alpha": .float(0.5)])
            builder.output("y", .float32, [4, 3])
        }
    }

    /// Per-column mean of `quantized − float` outputs over `samples`.
    static func meanErrors(_ float: Graph, _ quantized: Graph, _ samples: [[String: Tensor]]) throws -> [Double] {
        var sums = [Double](repeating: 0, count: 3)
        var count = 0
        for sample in samples {
            let expected = try Interpreter(graph: float).run(sample)["y"]?.doubleScalars() ?? []
            let actual = try Interpreter(graph: quantized).run(sample)["y"]?.doubleScalars() ?? []
            for (index, (a, e)) in zip(actual, expected).enumerated() { sums[index % 3] += a - e }
            count += expected.count / 3
        }
        return sums.map { $0 / Double(max(count, 1)) }
    }

    @Test func createsABiasThatRemovesTheMeanError() throws {
        let graph = try Self.gemmWithoutBias()
        let plan = QuantTesting.weightPlan(graph)
        let samples = QuantTesting.samples(20, input: "x", shape: [4, 16], seed: 40)
        let before = try Self.meanErrors(graph, QuantTesting.weightQuantized(graph, plan), samples)
        let (corrected, corrections) = try BiasCorrection.apply(graph, plan: plan, samples: samples, threads: 1)
        let after = try Self.meanErrors(graph, QuantTesting.weightQuantized(corrected, plan), samples)
        print("mean error per column before \(before), after \(after)")
        #expect(corrections.map(\.layer) == ["fc"])
        let fc = try #require(corrected.nodes.first { $0.name == "fc" })
        let biasID = try #require(fc.input(2))
        #expect(corrected.initializers[biasID]?.shape == [3] && corrected[biasID].name == "fc_bias")
        #expect(Swift.abs(before[2]) > 0.005)
        // Twenty samples in two chunks (running mean): the calibration mean error is gone.
        #expect(after.allSatisfy { Swift.abs($0) < 1e-5 })
    }

    @Test func leavesUnplannedLayersAlone() throws {
        let graph = try Self.gemmWithoutBias()
        let empty = QuantizationPlan(scale: .pow2, target: nil, method: .minmax, calibrationSamples: 0)
        let samples = QuantTesting.samples(4, input: "x", shape: [4, 16], seed: 40)
        let (corrected, corrections) = try BiasCorrection.apply(graph, plan: empty, samples: samples, threads: 1)
        #expect(corrected == graph && corrections.isEmpty)
    }

    /// `gemm → If(cond){ relu } else { neg } → gemm`: the lock-step run hands the `If` to
    /// the interpreter with its captures, and corrects both layers as it would with a Relu.
    @Test func runsThroughControlFlow() throws {
        func branch(_ op: OpKind, _ name: String) -> Graph {
            var body = Graph(name: name)
            let captured = body.addValue(Value(name: "h"))
            let result = body.addValue(Value(name: name + "_out"))
            body.captures = [captured]
            body.addNode(Node(name: name + "_op", op: op, inputs: [captured], outputs: [result]))
            body.outputs = [result]
            return body
        }
        let straight = try QuantTesting.graph { builder in
            builder.input("x", .float32, [4, 6])
            builder.initializer("w1", QuantTesting.random([6, 5], seed: 1))
            builder.initializer("w2", QuantTesting.random([5, 3], seed: 2))
            builder.node("Gemm", ["x", "w1"], ["h"], name: "fc1")
            builder.node("Relu", ["h"], ["a"], name: "relu")
            builder.node("Gemm", ["a", "w2"], ["y"], name: "fc2")
            builder.output("y", .float32, [4, 3])
        }
        var branched = straight
        let relu = try #require(branched.nodes.firstIndex { $0.op == .relu })
        let condition = branched.addInitializer(Tensor(scalar: true), name: "condition")
        branched.nodes[relu] = Node(
            name: "choose", op: .if, inputs: [condition], outputs: branched.nodes[relu].outputs,
            attributes: Attributes([
                "then_branch": .graph(branch(.relu, "then")), "else_branch": .graph(branch(.neg, "else")),
            ]))
        let plan = QuantTesting.weightPlan(straight)
        let samples = QuantTesting.samples(6, input: "x", shape: [4, 6], seed: 7)
        let (expected, _) = try BiasCorrection.apply(straight, plan: plan, samples: samples, threads: 1)
        let (actual, corrections) = try BiasCorrection.apply(branched, plan: plan, samples: samples, threads: 1)
        #expect(corrections.map(\.layer) == ["fc1", "fc2"])
        for name in ["fc1_bias", "fc2_bias"] {
            let want = try #require(expected.valueID(named: name).flatMap { expected.initializers[$0] })
            let got = try #require(actual.valueID(named: name).flatMap { actual.initializers[$0] })
            #expect(got == want, "\(name)")
        }
    }
}
