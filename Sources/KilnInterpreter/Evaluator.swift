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

/// Allocates output `index` of the node being evaluated, zero-filled unless `overwritten`
/// (the evaluator writes every element); see ``EvalContext/makeOutput(_:zeros:dtype:)``.
public typealias OutputAllocator = (_ index: Int, _ shape: [Int], _ dtype: DType, _ overwritten: Bool) -> Tensor

/// What an evaluator may use besides its inputs.
public struct EvalContext {
    /// Intra-op threads kernels may use.
    public let threads: Int
    /// Runs a subgraph (an `If` branch or a `Loop` body) with `inputs` bound to its
    /// graph inputs; captured outer values are resolved by name from the calling scope.
    public let runSubgraph: (_ body: Graph, _ inputs: [Tensor]) throws -> [Tensor]
    /// Where outputs go; `nil` allocates fresh zeroed tensors (the interpreter).
    public let outputAllocator: OutputAllocator?

    /// Creates a context (the interpreter makes one per node; the constant folder makes one
    /// whose `runSubgraph` throws, since it never folds control flow; the runtime's
    /// executors pass an `outputAllocator` that places outputs in their memory plan).
    public init(
        threads: Int, runSubgraph: @escaping (_ body: Graph, _ inputs: [Tensor]) throws -> [Tensor],
        outputAllocator: OutputAllocator? = nil
    ) {
        self.threads = threads
        self.runSubgraph = runSubgraph
        self.outputAllocator = outputAllocator
    }

    /// The tensor an evaluator writes output `index` into: `Tensor(zeros:dtype:)` unless an
    /// executor supplies memory (a slot of its arena). The tensor is zero-filled, except
    /// when the executor planned the output in place over an input of the same shape and
    /// dtype (elementwise ops only): then it holds that input's elements, which the kernel
    /// overwrites element by element.
    ///
    /// Call it once per output, for the tensor the evaluator returns in that position.
    public func makeOutput(_ index: Int, zeros shape: [Int], dtype: DType) -> Tensor {
        outputAllocator?(index, shape, dtype, false) ?? Tensor(zeros: shape, dtype: dtype)
    }

    /// ``makeOutput(_:zeros:dtype:)`` for an evaluator whose kernel writes every element
    /// (a GEMM with beta 0, a convolution): an executor may hand out its arena slot without
    /// clearing it first. The contents are unspecified until the kernel writes them (when
    /// the output was planned in place over an input, they are that input's elements).
    public func makeOutput(_ index: Int, overwriting shape: [Int], dtype: DType) -> Tensor {
        outputAllocator?(index, shape, dtype, true) ?? Tensor(zeros: shape, dtype: dtype)
    }

    /// This context without its output allocator, for tensors that are not the node's
    /// outputs (an intermediate of a multi-step evaluator).
    public var allocatingFresh: EvalContext {
        EvalContext(threads: threads, runSubgraph: runSubgraph)
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
