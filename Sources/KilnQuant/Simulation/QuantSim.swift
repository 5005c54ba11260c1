import KilnCore
import KilnIR
import KilnInterpreter

/// The fake-quant executor: runs a quantized model in float with exactly the integer
/// semantics of its plan, so accuracy can be measured before compiling.
///
/// - Every planned tensor is quantized where it is computed (graph inputs, node outputs,
///   constants once up front) and carries the real value of its integer from then on.
/// - In power-of-two plans each DPU layer (``LayerQuantization``) is computed by the DPU's
///   integer pipeline (`FixedPoint+Layers.swift`): conv accumulation, bias alignment,
///   `shift_cut`, the fused activation, half-up rounding and saturation; element-wise add
///   with aligned inputs, mul, average pooling by the DPU multiplier, hard-sigmoid and
///   hard-swish with 2731/2^14. The DPU emulator computes the same functions, so the two
///   agree bit for bit. `docs/dpu-arithmetic.md` is the contract.
/// - Ops outside the plan (CPU ops) run in float on the quantized values.
///
/// ```swift
/// let model = try Quantizer.quantize(graph, calibration: set, config: QuantizationConfig())
/// let outputs = try QuantSim.run(model, inputs: ["input": x], threads: 1)
/// ```
public enum QuantSim {
    /// Runs `model` on one input feed.
    ///
    /// - Returns: every graph output, by name.
    /// - Throws: `planMismatch` when the plan names values the graph does not have or lacks
    ///   a fix position a layer needs; the interpreter's errors (`missingInput`, …).
    public static func run(_ model: QuantizedModel, inputs: [String: Tensor], threads: Int) throws -> [String: Tensor] {
        try SimulationProgram(graph: model.graph, plan: model.plan).run(inputs, threads: threads)
    }

    /// Runs `model` on one input feed and shows every value to `observe` as the simulation
    /// computed it (planned values already fake-quantized: the real value of their integer),
    /// by value name — for comparing a DPU dump layer by layer.
    ///
    /// - Returns: every graph output, by name.
    /// - Throws: what ``run(_:inputs:threads:)`` throws.
    public static func run(
        _ model: QuantizedModel, inputs: [String: Tensor], threads: Int,
        observe: @escaping @Sendable (_ name: String, _ tensor: Tensor) -> Void
    ) throws -> [String: Tensor] {
        try SimulationProgram(graph: model.graph, plan: model.plan).run(inputs, threads: threads, observe: observe)
    }
}

/// A graph and plan prepared for repeated simulation: constants quantized once, layer
/// evaluators built once.
struct SimulationProgram: Sendable {
    /// The graph with every planned constant quantized.
    let graph: Graph
    /// Planned activations, by name.
    let activations: [String: TensorQuantization]
    /// Evaluators replacing nodes, by the node's first output.
    let overrides: [ValueID: Evaluator]

    /// Prepares `plan` on `graph`.
    ///
    /// - Throws: `planMismatch`.
    init(graph: Graph, plan: QuantizationPlan) throws {
        var graph = graph
        var activations = plan.tensors
        for (id, tensor) in graph.initializers {
            let name = graph[id].name
            guard let quantization = plan.tensors[name] else { continue }
            graph.initializers[id] = FakeQuantization.apply(quantization, to: tensor)
            activations[name] = nil
        }
        self.graph = graph
        self.activations = activations
        overrides = plan.scale == .pow2 ? try Self.layerOverrides(graph, plan) : [:]
    }

    private static func layerOverrides(_ graph: Graph, _ plan: QuantizationPlan) throws -> [ValueID: Evaluator] {
        let producers = graph.producers()
        let ids = Dictionary(
            graph.values.enumerated().map { ($1.name, ValueID($0)) }, uniquingKeysWith: { first, _ in first })
        func position(_ name: String, _ layer: LayerQuantization) throws -> Int {
            guard let position = plan.tensors[name]?.fixPosition else {
                throw KilnError(.planMismatch, "layer '\(layer.name)': '\(name)' has no fix position in the plan")
            }
            return position
        }
        var overrides: [ValueID: Evaluator] = [:]
        for layer in plan.layers {
            guard let output = ids[layer.output], var main = producers[output.index] else {
                throw KilnError(.planMismatch, "layer '\(layer.name)': the graph computes no value '\(layer.output)'")
            }
            if layer.nodes.count > 1 {
                // The fused activation passes the layer's (already activated) result through.
                let activation = graph.nodes[main.index]
                guard let first = activation.outputs.first ?? nil, let source = activation.input(0),
                    let producer = producers[source.index]
                else {
                    throw KilnError(.planMismatch, "layer '\(layer.name)': no node feeds its activation")
                }
                overrides[first] = { _, inputs, context in [try context.required(inputs, 0, activation)] }
                main = producer
            }
            let node = graph.nodes[main.index]
            guard let first = node.outputs.first ?? nil else { continue }
            let simulation = DPULayerSimulation(
                layer: layer, node: node, inputPositions: try layer.inputs.map { try position($0, layer) },
                weightPosition: try layer.weight.map { try position($0, layer) },
                biasPosition: try layer.bias.map { try position($0, layer) },
                outputPosition: try position(layer.output, layer))
            overrides[first] = { _, inputs, context in try simulation.evaluate(inputs, context) }
        }
        return overrides
    }

    /// Runs one feed; `observe` sees every value as the simulation computed it.
    func run(
        _ inputs: [String: Tensor], threads: Int, observe: (@Sendable (String, Tensor) -> Void)? = nil
    ) throws -> [String: Tensor] {
        var interpreter = try Interpreter(graph: graph, threads: threads)
        let activations = activations
        interpreter.valueHook = { name, tensor in
            guard let quantization = activations[name] else {
                observe?(name, tensor)
                return nil
            }
            let quantized = FakeQuantization.apply(quantization, to: tensor)
            observe?(name, quantized)
            return quantized
        }
        let overrides = overrides
        interpreter.evaluatorOverride = { node in
            guard let first = node.outputs.first ?? nil else { return nil }
            return overrides[first]
        }
        return try interpreter.run(inputs)
    }
}
