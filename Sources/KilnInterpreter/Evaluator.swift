import KilnCore
import KilnIR

/// Runs one node on concrete input tensors and returns its outputs.
///
/// `inputs` has one entry per node input (`nil` for an omitted optional input). The
/// result has one entry per node output; an evaluator may return `nil` for an output
/// nobody asked for (its `node.outputs` entry is `nil`). Evaluators decode attributes,
/// compute output shapes, allocate outputs and call `KilnKernels` functions, which take
/// buffers and shapes and write into the outputs they are given.
public typealias Evaluator = @Sendable (_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?]

/// What an evaluator may use besides its inputs.
public struct EvalContext {
    /// Intra-op threads kernels may use.
    public let threads: Int
    /// Runs a subgraph (an `If` branch or a `Loop` body) with `inputs` bound to its
    /// graph inputs; captured outer values are resolved by name from the calling scope.
    public let runSubgraph: (_ body: Graph, _ inputs: [Tensor]) throws -> [Tensor]

    /// Creates a context (the interpreter makes one per node; the constant folder makes one
    /// whose `runSubgraph` throws, since it never folds control flow).
    public init(threads: Int, runSubgraph: @escaping (_ body: Graph, _ inputs: [Tensor]) throws -> [Tensor]) {
        self.threads = threads
        self.runSubgraph = runSubgraph
    }
}

extension EvalContext {
    /// Input `index`, or an `invalidModel` error naming it when it is absent.
    public func required(_ inputs: [Tensor?], _ index: Int, _ node: Node) throws -> Tensor {
        guard index < inputs.count, let tensor = inputs[index] else {
            throw KilnError(.invalidModel, "required input \(index) is missing")
        }
        return tensor
    }
}

/// The evaluator table, one entry per op, assembled from the op-family files
/// (`Evaluators+<Family>.swift`).
public enum Evaluators {
    /// Every evaluator, by op.
    public static let table: [OpKind: Evaluator] = {
        var table: [OpKind: Evaluator] = [:]
        for family in [elementwise, nn, dataMovement, control, canonical] {
            table.merge(family) { _, new in new }
        }
        return table
    }()
}
