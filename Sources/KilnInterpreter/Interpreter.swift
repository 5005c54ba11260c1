import KilnCore
import KilnIR

/// Sees (and may replace) each value the interpreter computes; see ``Interpreter/valueHook``.
public typealias ValueHook = @Sendable (_ name: String, _ tensor: Tensor) throws -> Tensor?

/// Chooses, for a node about to run, an evaluator to use instead of the table's; see
/// ``Interpreter/evaluatorOverride``.
public typealias EvaluatorOverride = @Sendable (_ node: Node) -> Evaluator?

/// The reference float executor: walks a ``Graph`` node by node with concrete tensors.
///
/// It handles dynamic shapes (every shape is computed from the data) and control flow
/// (`If`, `Loop` run their subgraphs recursively). Tensors are released after their last
/// use, so peak memory follows the live set, not the whole graph.
///
/// ```swift
/// let model = try ONNXImporter.importModel(contentsOf: url)
/// let interpreter = try Interpreter(graph: model.graph)
/// let outputs = try interpreter.run(["x": x])
/// ```
public struct Interpreter: Sendable {
    /// The graph being run.
    public let graph: Graph
    /// Intra-op threads handed to kernels.
    public var threads: Int
    /// Called with every graph input and node output — in subgraphs too — by value name, as
    /// soon as it is computed. Returning a tensor replaces the value (fake quantization);
    /// returning `nil` keeps it (observation, e.g. calibration). Value names are unique
    /// across a graph and its subgraphs, so the name identifies the tensor.
    public var valueHook: ValueHook?
    /// Consulted before each top-level node runs (not in subgraphs): a non-nil evaluator
    /// runs instead of ``Evaluators/table``'s. Fake quantization uses it to run chosen
    /// nodes with integer semantics; ``valueHook`` still sees their outputs.
    public var evaluatorOverride: EvaluatorOverride?

    /// Prepares a graph for execution.
    ///
    /// - Throws: `verificationFailed` for a malformed graph, `kernelMissing` for an op
    ///   (here or in a subgraph) that has no evaluator.
    public init(graph: Graph, threads: Int = 1) throws {
        try Verifier.verify(graph)
        try Self.checkEvaluators(graph)
        self.graph = graph
        self.threads = max(1, threads)
    }

    private static func checkEvaluators(_ graph: Graph) throws {
        for node in graph.nodes {
            guard Evaluators.table[node.op] != nil else {
                throw KilnError(.kernelMissing, "[\(node.op)] node '\(node.name)': no CPU implementation yet")
            }
            for case .graph(let body) in node.attributes.values.values { try checkEvaluators(body) }
        }
    }

    /// The graph inputs a caller must provide (inputs without a default initializer).
    public var requiredInputs: [Value] {
        graph.inputs.filter { graph.initializers[$0] == nil }.map { graph[$0] }
    }

    /// Runs the graph.
    ///
    /// - Parameter inputs: tensors by graph-input name. Inputs that an initializer
    ///   shadows may be omitted (the initializer is the default).
    /// - Returns: every graph output, by name.
    /// - Throws: `missingInput`, `unknownInput`, `inputDTypeMismatch`,
    ///   `inputShapeMismatch`, and the errors kernels raise (`invalidArgument`, …).
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        let inputNames = Set(graph.inputs.map { graph[$0].name })
        for name in inputs.keys.sorted() where !inputNames.contains(name) {
            throw KilnError(
                .unknownInput,
                "the model has no input '\(name)'; its inputs are \(graph.inputs.map { graph[$0].name })")
        }
        var bound: [Tensor] = []
        for id in graph.inputs {
            let value = graph[id]
            if let tensor = inputs[value.name] {
                try Self.check(tensor, against: value)
                bound.append(tensor)
            } else if let initializer = graph.initializers[id] {
                bound.append(initializer)
            } else {
                throw KilnError(
                    .missingInput,
                    "input '\(value.name)' (\(value.type)) was not provided")
            }
        }
        let results = try execute(graph, inputs: bound, outer: { _ in nil }, isTopLevel: true)
        var outputs: [String: Tensor] = [:]
        for (id, tensor) in zip(graph.outputs, results) { outputs[graph[id].name] = tensor }
        return outputs
    }

    /// Checks a caller's tensor against a graph input's declared type.
    static func check(_ tensor: Tensor, against value: Value) throws {
        if let dtype = value.type.dtype, dtype != tensor.dtype {
            throw KilnError(
                .inputDTypeMismatch,
                "input '\(value.name)' must be \(dtype), got \(tensor.dtype)")
        }
        guard let shape = value.type.shape else { return }
        guard shape.count == tensor.rank else {
            throw KilnError(
                .inputShapeMismatch,
                "input '\(value.name)' must have rank \(shape.count) (\(value.type)), got shape \(tensor.shape)")
        }
        for (axis, (dim, actual)) in zip(shape, tensor.shape).enumerated() {
            if let expected = dim.value, expected != actual {
                throw KilnError(
                    .inputShapeMismatch,
                    "input '\(value.name)' must have shape \(value.type), got \(tensor.shape) (axis \(axis))")
            }
        }
    }

    /// Runs `graph` with `inputs` bound to its graph inputs; `outer` resolves captures.
    func execute(
        _ graph: Graph, inputs: [Tensor], outer: @escaping (String) -> Tensor?, isTopLevel: Bool = false
    ) throws -> [Tensor] {
        var environment = [Tensor?](repeating: nil, count: graph.values.count)
        for (id, tensor) in graph.initializers { environment[id.index] = tensor }
        for (id, tensor) in zip(graph.inputs, inputs) {
            environment[id.index] = try valueHook?(graph[id].name, tensor) ?? tensor
        }
        for id in graph.captures {
            guard let tensor = outer(graph[id].name) else {
                throw KilnError(.invalidModel, "subgraph '\(graph.name)' reads unknown outer value '\(graph[id].name)'")
            }
            environment[id.index] = tensor
        }
        // Release each value after its last reader, except graph outputs.
        var lastUse = [Int](repeating: -1, count: graph.values.count)
        // Names of this scope, so nested subgraphs can resolve their captures.
        let nameIndex = Dictionary(
            graph.values.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, node) in graph.nodes.enumerated() {
            for case let input? in node.inputs { lastUse[input.index] = index }
            // A body reads its captures when its node runs: they must live until then.
            for name in Graph.captureNames(of: node) {
                if let captured = nameIndex[name] { lastUse[captured] = max(lastUse[captured], index) }
            }
        }
        for output in graph.outputs { lastUse[output.index] = Int.max }

        for (index, node) in graph.nodes.enumerated() {
            let replacement = isTopLevel ? evaluatorOverride?(node) : nil
            guard let evaluator = replacement ?? Evaluators.table[node.op] else {
                throw KilnError(.kernelMissing, "[\(node.op)] node '\(node.name)': no CPU implementation yet")
            }
            let operands = node.inputs.map { $0.flatMap { environment[$0.index] } }
            let context: EvalContext
            if OpKind.withSubgraphs.contains(node.op) {
                // Snapshot this scope for the subgraph's captures (only control flow pays for it).
                let scope = environment
                context = EvalContext(threads: threads) { body, bodyInputs in
                    try self.execute(body, inputs: bodyInputs) { name in
                        if let index = nameIndex[name], let tensor = scope[index] { return tensor }
                        return outer(name)
                    }
                }
            } else {
                context = EvalContext(threads: threads) { body, _ in
                    throw KilnError(.invalidModel, "subgraph '\(body.name)' outside control flow")
                }
            }
            let results: [Tensor?]
            do {
                results = try evaluator(node, operands, context)
            } catch let error as KilnError {
                throw KilnError(error.code, "[\(node.op)] node '\(node.name)': \(error.message)")
            }
            for (slot, output) in node.outputs.enumerated() {
                guard let output else { continue }
                guard slot < results.count, let tensor = results[slot] else {
                    throw KilnError(.invalidModel, "[\(node.op)] node '\(node.name)': output \(slot) was not produced")
                }
                environment[output.index] = try valueHook?(graph[output].name, tensor) ?? tensor
            }
            for case let input? in node.inputs where lastUse[input.index] == index {
                environment[input.index] = nil
            }
            for name in Graph.captureNames(of: node) {
                if let captured = nameIndex[name], lastUse[captured] == index { environment[captured] = nil }
            }
        }
        return try graph.outputs.map { id in
            guard let tensor = environment[id.index] else {
                throw KilnError(.invalidModel, "graph '\(graph.name)': output '\(graph[id].name)' was not computed")
            }
            return tensor
        }
    }
}
