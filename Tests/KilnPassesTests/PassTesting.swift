import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnPasses
import KilnTestSupport
import Testing

/// What the pass tests share: building a Before graph from ONNX, running one pass under
/// the verifying ``PassManager``, and checking that outputs did not change.
enum PassTesting {
    /// Imports the model `build` describes (shapes inferred, verified).
    static func graph(opset: Int = 13, _ build: (inout ONNXModelBuilder) -> Void) throws -> Graph {
        var builder = ONNXModelBuilder(opset: opset)
        build(&builder)
        return try ONNXImporter.importModel(data: try builder.serialized(), directory: nil).graph
    }

    /// Runs `passes` with the verifier on.
    static func run(_ passes: [Pass], on graph: Graph, context: PassContext = PassContext()) throws -> Graph {
        try PassManager(passes).run(graph, context: context).0
    }

    /// Deterministic values in `[-scale, scale)` (a fixed linear congruential sequence).
    static func random(_ shape: [Int], seed: UInt64 = 1, scale: Float = 1) -> Tensor {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let values = (0..<Tensor.elementCount(shape)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
        return Tensor(shape: shape, scalars: values)
    }

    /// Largest `|a − b| / range(b)` over every output `before` and `after` compute on
    /// `inputs` (integer outputs must agree exactly; then the ratio is 0).
    static func worstRelativeError(_ before: Graph, _ after: Graph, inputs: [String: Tensor]) throws -> Double {
        let expected = try Interpreter(graph: before).run(inputs)
        let actual = try Interpreter(graph: after).run(inputs)
        var worst = 0.0
        for (name, reference) in expected {
            guard let tensor = actual[name], tensor.shape == reference.shape, tensor.dtype == reference.dtype else {
                return .infinity
            }
            worst = max(worst, relativeError(tensor, reference))
        }
        return worst
    }

    /// `max |actual − expected| / max(range(expected), 1e-6)`; integer tensors count any
    /// difference as infinite.
    static func relativeError(_ actual: Tensor, _ expected: Tensor) -> Double {
        let a = actual.doubleScalars()
        let e = expected.doubleScalars()
        let range = max((e.max() ?? 0) - (e.min() ?? 0), 1e-6)
        let difference = zip(a, e).map { Swift.abs($0 - $1) }.max() ?? 0
        if !expected.dtype.isFloatingPoint { return difference == 0 ? 0 : .infinity }
        return difference / range
    }

    /// Checks that `after` computes what `before` does (≤ 1e-5 × range: a rewrite may
    /// change rounding, never results).
    static func expectSameOutputs(
        _ before: Graph, _ after: Graph, inputs: [String: Tensor], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let worst = try worstRelativeError(before, after, inputs: inputs)
        #expect(worst <= 1e-5, "outputs differ: max error / range = \(worst)", sourceLocation: sourceLocation)
    }

    /// The op of every node, in order.
    static func ops(_ graph: Graph) -> [OpKind] { graph.nodes.map(\.op) }
}
