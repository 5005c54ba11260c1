import KilnCore
import KilnIR
import KilnInterpreter
import KilnPasses

/// The float graph and its fake-quantized twin, run node by node over all calibration
/// samples at once, so that a tool sees a quantized layer's inputs on both paths over
/// every sample, and changes the layer before anything downstream of it runs: what
/// "process the layers in order, corrected upstream layers feeding downstream ones" needs,
/// in one pass over the graph instead of one per layer.
///
/// The float path is the original model (the target); the quantized path runs the working
/// graph with the plan's fake quantization (``PlanFakeQuantization``) of planned constants
/// and of every planned value as it is computed. A quantized layer is a `Conv`/`Gemm`
/// whose weight the plan quantizes and which alone reads its weight and bias.
///
/// Memory is the live values of both paths times the samples: callers cap the samples.
/// Nodes with subgraphs (`If`, `Loop`) run through the ``Interpreter`` one node at a time.
struct LockstepExecution {
    /// What a tool sees at one quantized layer.
    struct Visit {
        let layer: LinearLayer
        /// The layer's node in the working graph.
        let node: Node
        /// The working graph: upstream layers already adjusted.
        let graph: Graph
        /// The plan's quantization of the layer's weight.
        let weightQuantization: TensorQuantization
        /// The layer's fake-quantized weight and bias as the quantized path uses them.
        let quantizedWeight: Tensor
        let quantizedBias: Tensor?
        /// The layer's input on each path, one tensor per sample.
        let floatInputs: [Tensor]
        let quantizedInputs: [Tensor]
        /// The float model's output of the layer, per sample: the target.
        let floatOutputs: [Tensor]
        let threads: Int

        /// Runs the layer's node on `input` with `weight` and `bias` (`nil`: none).
        func evaluate(_ input: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
            let outputs = try LockstepExecution.evaluate(
                node, [input, weight, bias], threads: threads, hook: nil, scope: { _ in nil })
            guard let output = outputs.first ?? nil else {
                throw KilnError(.invalidModel, "[\(node.op)] node '\(node.name)': no output")
            }
            return output
        }
    }

    /// Runs `graph` over `samples`; at each quantized layer, in node order, `adjust` returns
    /// the working graph with that layer changed (or unchanged), and the quantized path goes
    /// on with the change.
    ///
    /// - Parameter reference: the float model the float path runs (default `graph`): the
    ///   model before an earlier tool changed biases or weights, whose outputs are still
    ///   the target. It must be `graph` up to initializer values and values `graph` added
    ///   after it (new biases): the same nodes, in the same order, on the same values.
    /// - Returns: the working graph after the last layer.
    /// - Throws: `missingInput` for a sample without a required input, and what the
    ///   evaluators and `adjust` throw.
    static func run(
        _ graph: Graph, reference: Graph? = nil, plan: QuantizationPlan, samples: [[String: Tensor]], threads: Int,
        adjust: (Visit) throws -> Graph
    ) throws -> Graph {
        let reference = reference ?? graph
        precondition(
            reference.nodes.count == graph.nodes.count && reference.inputs == graph.inputs
                && zip(reference.nodes, graph.nodes).allSatisfy { $0.op == $1.op && $0.outputs == $1.outputs },
            "LockstepExecution: the reference graph must have the nodes of the graph")
        let view = RewriteView(graph)
        var layers: [Int: LinearLayer] = [:]
        for layer in LinearLayer.all(in: view)
        where plan.tensors[graph[layer.weight].name] != nil && layer.ownsParameters(in: view) {
            layers[layer.node.index] = layer
        }
        guard !layers.isEmpty else { return graph }
        let needed = ancestors(of: layers.keys.sorted(), in: graph)
        let hook = PlanFakeQuantization.hook(plan)
        var working = graph
        var floatPath = Path(constants: reference.initializers)
        var quantizedPath = Path(constants: PlanFakeQuantization.constants(graph, plan: plan))
        for id in graph.inputs {
            let name = graph[id].name
            let tensors = try samples.map { sample in
                guard let tensor = sample[name] ?? graph.initializers[id] else {
                    throw KilnError(.missingInput, "calibration sample lacks input '\(name)'")
                }
                return tensor
            }
            floatPath.values[id] = tensors
            quantizedPath.values[id] = try tensors.map { try hook(name, $0) ?? $0 }
        }
        let lastUse = lastUses(graph)
        let names = Dictionary(
            graph.values.enumerated().map { ($1.name, ValueID($0)) }, uniquingKeysWith: { a, _ in a })
        for (index, node) in graph.nodes.enumerated() where needed.contains(index) {
            let floatOutputs = try floatPath.evaluate(
                reference.nodes[index], samples: samples.count, names: names, threads: threads, hook: nil)
            if let layer = layers[index], let x = node.input(0), let weight = quantizedPath.constants[layer.weight] {
                let visit = Visit(
                    layer: layer, node: working.nodes[index], graph: working,
                    weightQuantization: plan.tensors[graph[layer.weight].name] ?? .fixPosition(0, roundMode: .halfUp),
                    quantizedWeight: weight,
                    quantizedBias: working.nodes[index].input(2).flatMap { quantizedPath.constants[$0] },
                    floatInputs: floatPath.operand(x, samples: samples.count),
                    quantizedInputs: quantizedPath.operand(x, samples: samples.count),
                    floatOutputs: floatOutputs.map { $0.first ?? nil }.compactMap { $0 }, threads: threads)
                working = try adjust(visit)
                for case let id? in working.nodes[index].inputs.dropFirst() {
                    guard let tensor = working.initializers[id] else { continue }
                    let quantization = plan.tensors[working[id].name]
                    quantizedPath.constants[id] =
                        quantization.map { PlanFakeQuantization.apply($0, to: tensor) } ?? tensor
                }
                if index == layers.keys.max() { break }  // nothing downstream is looked at
            }
            let quantizedOutputs = try quantizedPath.evaluate(
                working.nodes[index], samples: samples.count, names: names, threads: threads, hook: hook)
            for (slot, output) in node.outputs.enumerated() {
                guard let output else { continue }
                floatPath.values[output] = floatOutputs.compactMap { slot < $0.count ? $0[slot] : nil }
                quantizedPath.values[output] = try quantizedOutputs.compactMap { outputs in
                    guard slot < outputs.count, let tensor = outputs[slot] else { return nil }
                    return try hook(graph[output].name, tensor) ?? tensor
                }
            }
            for id in lastUse[index] {
                floatPath.values[id] = nil
                quantizedPath.values[id] = nil
            }
        }
        return working
    }

    /// The nodes `targets` depend on (through inputs and captures), `targets` included.
    private static func ancestors(of targets: [Int], in graph: Graph) -> Set<Int> {
        let producers = graph.producers()
        var found = Set<Int>()
        var stack = targets
        while let index = stack.popLast() {
            guard found.insert(index).inserted else { continue }
            let node = graph.nodes[index]
            let captured = Graph.captureNames(of: node).compactMap { graph.valueID(named: $0) }
            for id in node.inputs.compactMap({ $0 }) + captured {
                if let producer = producers[id.index] { stack.append(producer.index) }
            }
        }
        return found
    }

    /// For each node, the values whose last reader it is (captures by name included).
    private static func lastUses(_ graph: Graph) -> [[ValueID]] {
        var last: [ValueID: Int] = [:]
        let names = Dictionary(
            graph.values.enumerated().map { ($1.name, ValueID($0)) }, uniquingKeysWith: { a, _ in a })
        for (index, node) in graph.nodes.enumerated() {
            for case let input? in node.inputs { last[input] = index }
            for name in Graph.captureNames(of: node) { if let id = names[name] { last[id] = index } }
        }
        var result = [[ValueID]](repeating: [], count: graph.nodes.count)
        for (id, index) in last where !graph.outputs.contains(id) { result[index].append(id) }
        return result
    }

    /// One path's values: constants, and one tensor per sample for computed values.
    private struct Path {
        var constants: [ValueID: Tensor]
        var values: [ValueID: [Tensor]] = [:]

        /// Operand `id` for every sample.
        func operand(_ id: ValueID, samples: Int) -> [Tensor] {
            if let tensors = values[id] { return tensors }
            return constants[id].map { Array(repeating: $0, count: samples) } ?? []
        }

        /// Runs `node` once per sample; outputs per sample, per output slot.
        func evaluate(_ node: Node, samples: Int, names: [String: ValueID], threads: Int, hook: ValueHook?) throws
            -> [[Tensor?]]
        {
            try (0..<samples).map { sample in
                let operands = node.inputs.map { id in
                    id.flatMap { values[$0].map { $0[sample] } ?? constants[$0] }
                }
                return try LockstepExecution.evaluate(node, operands, threads: threads, hook: hook) { name in
                    names[name].flatMap { values[$0].map { $0[sample] } ?? constants[$0] }
                }
            }
        }
    }

    /// Runs one node; a node with subgraphs runs as a one-node graph in the ``Interpreter``
    /// (its captures, resolved by `scope`, become that graph's inputs).
    static func evaluate(
        _ node: Node, _ operands: [Tensor?], threads: Int, hook: ValueHook?, scope: (String) -> Tensor?
    ) throws -> [Tensor?] {
        if OpKind.withSubgraphs.contains(node.op) {
            return try evaluateWithSubgraphs(node, operands, threads: threads, hook: hook, scope: scope)
        }
        guard let evaluator = Evaluators.table[node.op] else {
            throw KilnError(.kernelMissing, "[\(node.op)] node '\(node.name)': no CPU implementation yet")
        }
        let context = EvalContext(threads: threads) { body, _ in
            throw KilnError(.invalidModel, "subgraph '\(body.name)' outside control flow")
        }
        do {
            return try evaluator(node, operands, context)
        } catch let error as KilnError {
            throw KilnError(error.code, "[\(node.op)] node '\(node.name)': \(error.message)")
        }
    }

    private static func evaluateWithSubgraphs(
        _ node: Node, _ operands: [Tensor?], threads: Int, hook: ValueHook?, scope: (String) -> Tensor?
    ) throws -> [Tensor?] {
        var wrapper = Graph(name: node.name)
        var feeds: [String: Tensor] = [:]
        func input(_ name: String, _ tensor: Tensor) -> ValueID {
            let id = wrapper.addValue(Value(name: name))
            wrapper.inputs.append(id)
            feeds[name] = tensor
            return id
        }
        // Captures keep their names (the bodies read them by name); operands get fresh ones.
        for name in Set(Graph.captureNames(of: node)).sorted() {
            if let tensor = scope(name) { _ = input(name, tensor) }
        }
        var wrapped = node
        wrapped.inputs = operands.enumerated().map { slot, tensor in
            tensor.map { input(wrapper.uniqueName("operand_\(slot)"), $0) }
        }
        wrapped.outputs = node.outputs.enumerated().map { slot, output in
            output.map { _ in wrapper.addValue(Value(name: wrapper.uniqueName("result_\(slot)"))) }
        }
        wrapper.addNode(wrapped)
        wrapper.outputs = wrapped.outputs.compactMap { $0 }
        var interpreter = try Interpreter(graph: wrapper, threads: threads)
        interpreter.valueHook = hook
        let results = try interpreter.run(feeds)
        return wrapped.outputs.map { $0.flatMap { results[wrapper[$0].name] } }
    }
}
