import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels

/// A static-shape graph compiled once for ``GraphExecutor``: a flat list of steps, each with
/// its evaluator resolved and its operands as value slots, plus the memory plan.
///
/// Shared read-only by every ``ExecutionContext`` (and so by every thread); nothing in it
/// changes after compilation.
public final class ExecutionPlan: Sendable {
    /// One node to run.
    final class Step: Sendable {
        /// The node (its attributes are what the evaluator reads).
        let node: Node
        /// The kernel call, resolved at compile time.
        let evaluator: Evaluator
        /// Value slot of each node input (`nil` for an omitted optional input).
        let inputs: [Int?]
        /// Value slot of each node output (`nil` for an unused optional output).
        let outputs: [Int?]
        /// Where each output lives (`nil` for an unused output).
        let placements: [MemoryPlan.Placement?]
        /// Slots to clear after the step (their last reader).
        let release: [Int]
        /// `op name [shape, …] -> [shape, …]`, for traces.
        let signature: String
        /// The accelerator call of a `dpuSubgraph` node.
        let subgraph: SubgraphCall?
        /// The node's prepared kernel, which runs instead of the evaluator when present.
        let prepared: PreparedKernel?

        // A class, not a struct: the run loop then retains one reference per step instead of
        // copying (and retaining) every field.
        init(
            node: Node, evaluator: @escaping Evaluator, inputs: [Int?], outputs: [Int?],
            placements: [MemoryPlan.Placement?], release: [Int], signature: String, subgraph: SubgraphCall?,
            prepared: PreparedKernel?
        ) {
            self.node = node
            self.evaluator = evaluator
            self.inputs = inputs
            self.outputs = outputs
            self.placements = placements
            self.release = release
            self.signature = signature
            self.subgraph = subgraph
            self.prepared = prepared
        }
    }

    /// A graph input a caller binds.
    struct Input: Sendable {
        let name: String
        let slot: Int
        let dtype: DType?
        let shape: [Int]
        /// Whether an initializer shadows the input (its default; a caller may override it).
        let hasDefault: Bool
    }

    /// The graph after shape inference with the bound input shapes.
    public let graph: Graph
    /// The memory plan the steps follow.
    public let memoryPlan: MemoryPlan
    /// Intra-op threads handed to kernels.
    public let threads: Int
    let steps: [Step]
    let valueCount: Int
    /// Constants (initializers) by slot; everything else `nil`.
    let initialValues: [Tensor?]
    let inputs: [Input]
    let outputs: [(name: String, slot: Int)]
    /// Per value slot, whether a run needs the value as a ``Tensor``: an evaluator step
    /// reads it, it is a graph output, or a view of it is needed as a tensor. Prepared steps
    /// hand the other values on by address only.
    let needsTensor: [Bool]

    /// Ops whose output is a view of input 0.
    static let aliasOps: Set<OpKind> = [.reshape, .flatten, .squeeze, .unsqueeze, .identity]
    /// Ops that may write their output over an input of the same shape and dtype: each
    /// output element depends only on the input elements at the same position.
    static let inPlaceOps: Set<OpKind> = [
        .add, .sub, .mul, .div, .relu, .sigmoid, .tanh, .hardSwish, .hardSigmoid, .leakyRelu, .elu, .selu, .celu,
        .clip, .relu6, .silu, .abs, .neg, .exp, .log, .sqrt, .reciprocal, .softplus, .softsign, .mish, .gelu, .erf,
        .floor, .ceil, .round, .sign, .sin, .cos, .tan,
    ]

    /// Compiles `graph` for `inputShapes` (by input name; inputs not named keep their
    /// declared static shape).
    ///
    /// - Throws: `executorUnsupported` for control flow or an input without a static shape;
    ///   `verificationFailed`, `shapeMismatch` from verification and shape inference;
    ///   `kernelMissing` for an op with no evaluator.
    init(graph source: Graph, inputShapes: [String: [Int]], runner: any SubgraphRunner, threads: Int) throws {
        if source.hasControlFlow {
            throw KilnError(
                .executorUnsupported,
                "graph '\(source.name)' has If/Loop control flow; the graph executor runs static graphs only (use the VM)")
        }
        try Verifier.verify(source)
        let graph = try ShapeInference.infer(source, bindings: inputShapes)
        self.graph = graph
        self.threads = max(1, threads)
        valueCount = graph.values.count

        var inputs: [Input] = []
        for id in graph.inputs {
            let value = graph[id]
            if let initializer = graph.initializers[id] {
                inputs.append(Input(name: value.name, slot: id.index, dtype: initializer.dtype, shape: initializer.shape, hasDefault: true))
                continue
            }
            guard let shape = value.type.staticShape else {
                throw KilnError(
                    .executorUnsupported,
                    "input '\(value.name)' has dynamic shape \(value.type); the graph executor needs static shapes "
                        + "(bind the input's shape, or use the VM)")
            }
            inputs.append(Input(name: value.name, slot: id.index, dtype: value.type.dtype, shape: shape, hasDefault: false))
        }
        self.inputs = inputs
        outputs = graph.outputs.map { (graph[$0].name, $0.index) }
        var initialValues = [Tensor?](repeating: nil, count: graph.values.count)
        for (id, tensor) in graph.initializers { initialValues[id.index] = tensor }
        self.initialValues = initialValues

        let layout = try Self.layout(graph)
        memoryPlan = layout.plan
        var steps: [Step] = []
        for (index, node) in graph.nodes.enumerated() {
            let evaluator: Evaluator
            var call: SubgraphCall?
            var prepared: PreparedKernel?
            if node.op == .dpuSubgraph {
                let subgraph = try SubgraphCall(node: node)
                call = subgraph
                evaluator = Self.subgraphEvaluator(subgraph, runner: runner)
            } else if let packed = try Self.packedWeights(node, graph) {
                evaluator = Evaluators.fusedConv(packed: packed)
                prepared = (try? PreparedKernels.conv(node, graph, packed: packed)) ?? nil
            } else if let resolved = Evaluators.table[node.op] {
                evaluator = resolved
                // A node whose attributes do not decode runs its evaluator, which reports the
                // error at run time with the node's name, as without preparation.
                prepared = (try? PreparedKernels.make(node, graph)) ?? nil
            } else {
                throw KilnError(.kernelMissing, "[\(node.op)] node '\(node.name)': no CPU implementation yet")
            }
            steps.append(Step(
                node: node, evaluator: evaluator, inputs: node.inputs.map { $0?.index },
                outputs: node.outputs.map { $0?.index }, placements: node.outputs.map { $0.flatMap { layout.placements[$0.index] } },
                release: layout.release[index], signature: Self.signature(node, graph), subgraph: call,
                prepared: prepared))
        }
        self.steps = steps
        needsTensor = Self.tensorUses(steps, valueCount: valueCount, outputs: outputs.map(\.slot))
    }

    /// ``needsTensor``: the inputs of evaluator steps, the graph outputs and the views of
    /// memory outside the arena (a view's address is only valid while its source tensor
    /// lives, and the plan releases the source after its last direct reader); then, from the
    /// last step back, the source of every prepared view whose output is needed.
    static func tensorUses(_ steps: [Step], valueCount: Int, outputs: [Int]) -> [Bool] {
        var needed = [Bool](repeating: false, count: valueCount)
        var inArena = [Bool](repeating: false, count: valueCount)
        for slot in outputs { needed[slot] = true }
        for step in steps {
            guard let prepared = step.prepared else {
                for case let slot? in step.inputs { needed[slot] = true }
                continue
            }
            guard let output = step.outputs[0] else { continue }
            switch prepared.body {
            case .view:
                inArena[output] = step.inputs[0].map { inArena[$0] } ?? false
                if !inArena[output] { needed[output] = true }
            case .compute:
                if case .arena(_, let bytes, _)? = step.placements[0], prepared.outputBytes <= bytes { inArena[output] = true }
            }
        }
        for step in steps.reversed() {
            guard let prepared = step.prepared, case .view = prepared.body, let output = step.outputs[0],
                needed[output], let source = step.inputs[0]
            else { continue }
            needed[source] = true
        }
        return needed
    }

    /// The weights of a float32 `Conv` or `fusedConv` with a constant weight, packed once for
    /// the native GEMM (a plain `Conv` then runs as a `fusedConv` without summand or clamp).
    /// Not for an initializer that is also a graph input: a caller may bind another weight.
    static func packedWeights(_ node: Node, _ graph: Graph) throws -> Convolution.PackedWeights? {
        guard node.op == .conv || node.op == .fusedConv, let weightID = node.input(1),
            !graph.inputs.contains(weightID),
            let weight = graph.initializers[weightID], weight.dtype == .float32, weight.rank >= 3,
            let input = node.input(0), graph[input].type.dtype == .float32
        else { return nil }
        // The input's shape, when static, picks the path and so the layout; else the output's
        // pixels per image pick the product's (see `TransposedProduct`).
        let geometry = graph[input].type.staticShape.flatMap {
            try? Evaluators.convGeometry(node, input: $0, weight: weight.shape).0
        }
        let pixels = node.outputs.first.flatMap { $0 }.flatMap { graph[$0].type.staticShape }.map { $0.dropFirst(2).reduce(1, *) }
        return try Convolution.PackedWeights(
            weight: weight, group: try node.attributes.int("group", default: 1), outputPixels: pixels, geometry: geometry)
    }

    /// The evaluator of a `dpuSubgraph` node: hands the call to `runner`.
    static func subgraphEvaluator(_ call: SubgraphCall, runner: any SubgraphRunner) -> Evaluator {
        { node, inputs, context in
            let operands = try inputs.indices.map { try context.required(inputs, $0, node) }
            let results = try runner.run(call, inputs: operands, threads: context.threads)
            guard results.count == node.outputs.count else {
                throw KilnError(
                    .invalidModel, "\(call.symbol) returned \(results.count) tensors for \(node.outputs.count) outputs")
            }
            return results
        }
    }

    /// `Conv conv1 float32[1, 3, 8, 8], … -> float32[1, 8, 8, 8]`.
    static func signature(_ node: Node, _ graph: Graph) -> String {
        let inputs = node.inputs.map { $0.map { graph[$0].type.description } ?? "-" }.joined(separator: ", ")
        let outputs = node.outputs.map { $0.map { graph[$0].type.description } ?? "-" }.joined(separator: ", ")
        return "\(inputs) -> \(outputs)"
    }
}
