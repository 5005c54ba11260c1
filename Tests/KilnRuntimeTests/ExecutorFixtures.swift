import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnRuntime
import KilnTestSupport
import Testing

/// TEST DOUBLE, not a DPU: runs an accelerator subgraph by interpreting the float `body` the
/// partitioner kept on its `dpuSubgraph` node. It stands in for the DPU emulator so the
/// executors' subgraph seam can be tested before the emulator lands.
struct InterpretingSubgraphRunner: SubgraphRunner {
    func run(_ call: SubgraphCall, inputs: [Tensor], threads: Int) throws -> [Tensor] {
        guard let body = call.body else {
            throw KilnError(.subgraphRunnerMissing, "test double: \(call.symbol) has no float body")
        }
        let interpreter = try Interpreter(graph: body, threads: threads)
        let named = Dictionary(zip(body.inputs.map { body[$0].name }, inputs), uniquingKeysWith: { first, _ in first })
        let outputs = try interpreter.run(named)
        return try body.outputs.map { id in try #require(outputs[body[id].name]) }
    }
}

/// Models loaded through an artifact, and comparisons.
enum ExecutorFixtures {
    /// `graph` packed as a CPU module into an artifact and loaded back.
    static func artifact(for graph: Graph, extra: [any Module] = []) throws -> Artifact {
        let tree = try ModuleTree(modules: [CPUModule(name: "cpu0", graph: graph)] + extra)
        return try ArtifactReader.decode(ArtifactWriter.encode(tree, header: ArtifactFixtures.header()))
    }

    /// The reference model `name`, when the models were generated.
    static func entry(_ name: String) -> ReferenceModels.Entry? {
        ReferenceModels.manifest.first { $0.name == name }
    }

    /// Whether two output dictionaries hold the same tensors, bit for bit.
    static func identical(_ a: [String: Tensor], _ b: [String: Tensor]) -> Bool {
        a.keys.sorted() == b.keys.sorted() && a.allSatisfy { name, tensor in b[name] == tensor }
    }

    /// Largest |a - b| over the range of `expected` (float outputs; 0 when equal).
    static func relativeError(_ actual: Tensor, _ expected: Tensor) -> Double {
        guard actual.shape == expected.shape, let a = try? floats(actual), let b = try? floats(expected) else {
            return actual == expected ? 0 : .infinity
        }
        let range = max((b.max() ?? 0) - (b.min() ?? 0), 1e-6)
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / range } ?? 0
    }

    private static func floats(_ tensor: Tensor) throws -> [Double] {
        switch tensor.dtype {
        case .float32: return tensor.scalars(as: Float.self).map(Double.init)
        case .float64: return tensor.scalars(as: Double.self)
        default:
            guard let values = tensor.integerScalars() else { throw KilnError(.invalidArgument, "not numeric") }
            return values.map(Double.init)
        }
    }

    /// The static shapes of `inputs`, for the graph executor.
    static func shapes(_ inputs: [String: Tensor]) -> [String: [Int]] {
        inputs.mapValues(\.shape)
    }
}
