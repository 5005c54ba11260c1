import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnPasses
import KilnQuant
import KilnTestSupport
import Testing

@Suite struct CrossLayerEqualizationTests {
    /// Output channel `o` of `[M, …]` weights scaled by `10^(−2o/(M−1))`: ranges 100× apart.
    static func uneven(_ shape: [Int], seed: UInt64) -> Tensor {
        let base = QuantTesting.random(shape, seed: seed).scalars(as: Float.self)
        let inner = base.count / shape[0]
        let values = base.enumerated().map { index, value -> Float in
            let exponent = -2 * Double(index / inner) / Double(max(shape[0] - 1, 1))
            return value * Float(pow(10, exponent))
        }
        return Tensor(shape: shape, scalars: values)
    }

    /// `conv(x) → activation → conv`, 3×3 then 1×1, both with bias.
    static func convPair(_ activation: String?, attributes: [String: ONNXModelBuilder.AttributeSpec] = [:]) throws
        -> Graph
    {
        try QuantTesting.graph { builder in
            builder.input("x", .float32, [1, 3, 6, 6])
            builder.initializer("w1", uneven([4, 3, 3, 3], seed: 1))
            builder.initializer("b1", QuantTesting.random([4], seed: 2, scale: 0.1))
            builder.initializer("w2", QuantTesting.random([5, 4, 1, 1], seed: 3))
            builder.initializer("b2", QuantTesting.random([5], seed: 4, scale: 0.1))
            builder.node("Conv", ["x", "w1", "b1"], ["c1"], name: "conv1", attributes: ["pads": .ints([1, 1, 1, 1])])
            var second = "c1"
            if let activation {
                builder.node(activation, ["c1"], ["a1"], name: "act", attributes: attributes)
                second = "a1"
            }
            builder.node("Conv", [second, "w2", "b2"], ["y"], name: "conv2")
            builder.output("y", .float32, [1, 5, 6, 6])
        }
    }

    /// `conv 1×1 → relu → depthwise 3×3 → relu → conv 1×1`: two pairs sharing the depthwise layer.
    static func depthwiseChain() throws -> Graph {
        try QuantTesting.graph { builder in
            builder.input("x", .float32, [1, 3, 6, 6])
            builder.initializer("w1", QuantTesting.random([4, 3, 1, 1], seed: 5))
            builder.initializer("wd", uneven([4, 1, 3, 3], seed: 6))
            builder.initializer("bd", QuantTesting.random([4], seed: 7, scale: 0.1))
            builder.initializer("w3", QuantTesting.random([2, 4, 1, 1], seed: 8))
            builder.node("Conv", ["x", "w1"], ["c1"], name: "expand")
            builder.node("Relu", ["c1"], ["a1"], name: "relu1")
            builder.node(
                "Conv", ["a1", "wd", "bd"], ["c2"], name: "depthwise",
                attributes: ["group": .int(4), "pads": .ints([1, 1, 1, 1])])
            builder.node("Relu", ["c2"], ["a2"], name: "relu2")
            builder.node("Conv", ["a2", "w3"], ["y"], name: "project")
            builder.output("y", .float32, [1, 2, 6, 6])
        }
    }

    /// `gemm(x, W1ᵀ, C1; alpha, beta) → relu → gemm(·, W2, C2)`.
    static func gemmPair() throws -> Graph {
        try QuantTesting.graph { builder in
            builder.input("x", .float32, [2, 6])
            builder.initializer("w1", uneven([5, 6], seed: 9))
            builder.initializer("c1", QuantTesting.random([5], seed: 10, scale: 0.1))
            builder.initializer("w2", QuantTesting.random([5, 3], seed: 11))
            builder.initializer("c2", QuantTesting.random([1, 3], seed: 12))
            builder.node(
                "Gemm", ["x", "w1", "c1"], ["g1"], name: "fc1",
                attributes: ["transB": .int(1), "alpha": .float(0.7), "beta": .float(1.5)])
            builder.node("Relu", ["g1"], ["a1"], name: "relu")
            builder.node("Gemm", ["a1", "w2", "c2"], ["y"], name: "fc2")
            builder.output("y", .float32, [2, 3])
        }
    }

    static func expectUnchanged(
        _ before: Graph, _ after: Graph, input: [Int], sourceLocation: SourceLocation = #_sourceLocation
    )
        throws
    {
        for seed in [21, 22] as [UInt64] {
            let inputs = ["x": QuantTesting.random(input, seed: seed, scale: 2)]
            let difference = try QuantTesting.relativeDifference(before, after, inputs: inputs)
            #expect(difference <= 1e-5, "float outputs changed: \(difference) × range", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [nil, "Relu", "LeakyRelu"] as [String?])
    func equalizesAConvPairExactly(_ activation: String?) throws {
        let attributes: [String: ONNXModelBuilder.AttributeSpec] =
            activation == "LeakyRelu" ? ["alpha": .float(0.2)] : [:]
        let graph = try Self.convPair(activation, attributes: attributes)
        let (equalized, report) = try CrossLayerEqualization.apply(graph)
        print(report)
        try #require(report.pairs.count == 1 && report.skipped.isEmpty)
        let pair = report.pairs[0]
        #expect(pair.first == "conv1" && pair.second == "conv2" && pair.channels == 4)
        #expect(pair.firstRangeRatio.before > 50 && pair.firstRangeRatio.after < pair.firstRangeRatio.before / 5)
        // One pair: both layers end with the same per-channel ranges sqrt(r1 · r2).
        #expect(Swift.abs(pair.firstRangeRatio.after / pair.secondRangeRatio.after - 1) < 1e-6)
        #expect(report.rounds <= 2)
        #expect(equalized.nodes == graph.nodes)
        try Self.expectUnchanged(graph, equalized, input: [1, 3, 6, 6])
    }

    @Test func equalizesADepthwiseChainUntilConvergence() throws {
        let graph = try Self.depthwiseChain()
        let (equalized, report) = try CrossLayerEqualization.apply(graph)
        print(report)
        #expect(report.pairs.map { "\($0.first)>\($0.second)" } == ["expand>depthwise", "depthwise>project"])
        #expect(report.rounds > 1 && report.rounds < CrossLayerEqualization.maxRounds)
        let depthwise = try #require(report.pairs.last)
        #expect(depthwise.firstRangeRatio.after < depthwise.firstRangeRatio.before / 5)
        try Self.expectUnchanged(graph, equalized, input: [1, 3, 6, 6])
    }

    @Test func equalizesAGemmPairWithTransposedWeightsAndBeta() throws {
        let graph = try Self.gemmPair()
        let (equalized, report) = try CrossLayerEqualization.apply(graph)
        print(report)
        try #require(report.pairs.count == 1)
        #expect(report.pairs[0].firstRangeRatio.after < report.pairs[0].firstRangeRatio.before / 5)
        try Self.expectUnchanged(graph, equalized, input: [2, 6])
    }

    @Test func skipsReLU6AndSaysWhy() throws {
        let clip = try QuantTesting.graph { builder in
            builder.input("x", .float32, [1, 3, 6, 6])
            builder.initializer("w1", Self.uneven([4, 3, 3, 3], seed: 1))
            builder.initializer("w2", QuantTesting.random([5, 4, 1, 1], seed: 3))
            builder.initializer("lo", Tensor(scalar: Float(0)))
            builder.initializer("hi", Tensor(scalar: Float(6)))
            builder.node("Conv", ["x", "w1"], ["c1"], name: "conv1", attributes: ["pads": .ints([1, 1, 1, 1])])
            builder.node("Clip", ["c1", "lo", "hi"], ["a1"], name: "clip")
            builder.node("Conv", ["a1", "w2"], ["y"], name: "conv2")
            builder.output("y", .float32, [1, 5, 6, 6])
        }
        let graph = try PassManager(Pass.canonicalization).run(clip).0
        #expect(graph.nodes.map(\.op) == [.conv, .relu6, .conv])
        let (equalized, report) = try CrossLayerEqualization.apply(graph)
        print(report)
        #expect(report.pairs.isEmpty)
        #expect(report.skipped.map(\.reason).first?.hasPrefix("relu6 is not positively homogeneous") == true)
        #expect(equalized == graph)
    }

    @Test func skipsSharedIntermediatesAndOtherActivations() throws {
        let sigmoid = try Self.convPair("Sigmoid")
        #expect(
            try CrossLayerEqualization.apply(sigmoid).1.skipped.map(\.reason) == [
                "sigmoid is not positively homogeneous (f(x/s) ≠ f(x)/s)"
            ])
        let residual = try QuantTesting.graph { builder in
            builder.input("x", .float32, [1, 4, 5, 5])
            builder.initializer("w1", Self.uneven([4, 4, 1, 1], seed: 1))
            builder.initializer("w2", QuantTesting.random([4, 4, 1, 1], seed: 3))
            builder.node("Conv", ["x", "w1"], ["c1"], name: "conv1")
            builder.node("Relu", ["c1"], ["a1"], name: "relu")
            builder.node("Conv", ["a1", "w2"], ["c2"], name: "conv2")
            builder.node("Add", ["a1", "c2"], ["y"], name: "residual")
            builder.output("y", .float32, [1, 4, 5, 5])
        }
        let (equalized, report) = try CrossLayerEqualization.apply(residual)
        #expect(report.skipped.map(\.reason) == ["'a1' has other readers"])
        #expect(equalized == residual)
    }
    /// Every reference model, canonicalized: CLE leaves the outputs within 1e-5 × range.
    @Test(arguments: ReferenceModels.manifest)
    func keepsReferenceModelOutputs(_ entry: ReferenceModels.Entry) throws {
        let imported = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let graph = try PassManager(Pass.canonicalization).run(imported).0
        let (equalized, report) = try CrossLayerEqualization.apply(graph)
        print("\(entry.name): \(report)")
        for (inputs, _) in try entry.inputSets() {
            let difference = try QuantTesting.relativeDifference(graph, equalized, inputs: inputs)
            #expect(difference <= 1e-5, "\(entry.name): outputs moved by \(difference) × range")
        }
    }
}
