import Foundation
import KilnCore
import KilnIR
import KilnInterpreter

extension QuantReport {
    /// Measures a quantized model on `samples`.
    ///
    /// - Parameters:
    ///   - reference: the float model whose outputs the simulated outputs are compared with
    ///     (the model as given, before any DPU change such as the LeakyReLU slope), or `nil`
    ///     to compare with `graph` itself.
    ///   - graph: the graph as quantized; its float run is the per-layer reference.
    ///   - plan: the plan.
    ///   - program: the prepared simulation of `graph` and `plan`.
    ///   - progress: called after each sample with the number done.
    static func measure(
        reference: Graph?, graph: Graph, plan: QuantizationPlan, program: SimulationProgram,
        samples: [[String: Tensor]],
        threads: Int, warnings: [String], progress: ((Int) -> Void)? = nil
    ) throws -> QuantReport {
        let tracked = trackedLayers(graph, plan)
        let names = Set(tracked.map(\.tensor))
        let collector = Collector()
        var floatRun = try Interpreter(graph: graph, threads: threads)
        floatRun.valueHook = { name, tensor in
            if names.contains(name) { collector.store(name, tensor) }
            return nil
        }
        let referenceRun = try reference.map { try Interpreter(graph: $0, threads: threads) }
        var outputs: [String: SQNRAccumulator] = [:]
        for (index, sample) in samples.enumerated() {
            collector.startSample()
            let floatOutputs = try floatRun.run(sample)
            let expected = try referenceRun?.run(sample) ?? floatOutputs
            let simulated = try program.run(sample, threads: threads) { name, tensor in
                if names.contains(name) { collector.compare(name, tensor) }
            }
            for (name, tensor) in simulated {
                guard let floatTensor = expected[name] else { continue }
                outputs[name, default: SQNRAccumulator()].add(reference: floatTensor, test: tensor)
            }
            progress?(index + 1)
        }
        let accumulators = collector.accumulators
        let layers = tracked.map { layer in
            var layer = layer
            layer.sqnrDB = accumulators[layer.tensor]?.decibels
            return layer
        }
        let outputReports = graph.outputs.map { id in
            Output(name: graph[id].name, sqnrDB: outputs[graph[id].name]?.decibels)
        }
        return QuantReport(samples: samples.count, layers: layers, outputs: outputReports, warnings: warnings)
    }

    /// The planned tensors nodes compute, in graph order, labelled by layer.
    private static func trackedLayers(_ graph: Graph, _ plan: QuantizationPlan) -> [Layer] {
        let layersByOutput = Dictionary(plan.layers.map { ($0.output, $0) }, uniquingKeysWith: { first, _ in first })
        var result: [Layer] = []
        var seen = Set<String>()
        for node in graph.nodes {
            for case let output? in node.outputs {
                let name = graph[output].name
                guard let quantization = plan.tensors[name], seen.insert(name).inserted else { continue }
                let label: (name: String, op: String)
                if let layer = layersByOutput[name] {
                    let op =
                        layer.kind == .activation ? (layer.activation?.rawValue ?? "activation") : layer.kind.rawValue
                    let fused = layer.kind != .activation ? layer.activation.map { "+" + $0.rawValue } ?? "" : ""
                    label = (layer.name, op + fused)
                } else {
                    label = (node.name.isEmpty ? name : node.name, node.op.rawValue)
                }
                result.append(
                    Layer(
                        name: label.name, op: label.op, tensor: name, quantization: describe(quantization), sqnrDB: nil)
                )
            }
        }
        return result
    }

    /// `fix 5`, `scale 0.0123`, `scale 0.0123 zp 128`, `per-channel (16)`.
    static func describe(_ quantization: TensorQuantization) -> String {
        if let position = quantization.fixPosition { return "fix \(position)" }
        if quantization.scales.count > 1 { return "per-channel (\(quantization.scales.count))" }
        let scale = String(format: "scale %.4g", Double(quantization.scales.first ?? 0))
        let zeroPoint = quantization.zeroPoints.first ?? 0
        return zeroPoint == 0 ? scale : scale + " zp \(zeroPoint)"
    }
}

/// Float tensors of the current sample, and the accumulated comparison with the simulation.
private final class Collector: @unchecked Sendable {
    private let lock = NSLock()
    private var floats: [String: Tensor] = [:]
    private var table: [String: SQNRAccumulator] = [:]

    func startSample() {
        lock.lock()
        defer { lock.unlock() }
        floats = [:]
    }

    func store(_ name: String, _ tensor: Tensor) {
        lock.lock()
        defer { lock.unlock() }
        floats[name] = tensor
    }

    func compare(_ name: String, _ tensor: Tensor) {
        lock.lock()
        defer { lock.unlock() }
        guard let reference = floats[name] else { return }
        table[name, default: SQNRAccumulator()].add(reference: reference, test: tensor)
    }

    var accumulators: [String: SQNRAccumulator] {
        lock.lock()
        defer { lock.unlock() }
        return table
    }
}
