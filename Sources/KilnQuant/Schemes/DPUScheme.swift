import Foundation
import KilnCore
import KilnIR

/// The DPU scheme: symmetric, per-tensor, signed int8 with power-of-two scales (fix
/// positions), the DPU's rounding, its alignment rules and shift ranges.
///
/// - Activations (graph inputs, the results of conv + activation chains as the DPU computes
///   them, add / mul / pool / concat results) get the fix position the calibration method
///   chooses; values that must share a position (a concat's inputs and output, a pool's or a
///   reshape's input and output) take the smallest of their members' (Vitis AI
///   `align_concat`, `align_pool`). Values the DPU computes round half up (`DPU_ROUND`);
///   values it reads from the caller or the CPU round half away from zero (`STD_ROUND`,
///   vai_q_pytorch's rule for inputs).
/// - Weights take the position of least squared error ("diffs", five candidates from the
///   non-overflow position); biases the non-overflow position, both rounding `STD_ROUND`.
///   Biases are 8-bit: the DPU stores them as int8 and aligns them by `shift_bias` (the
///   digest's default; 16/32-bit biases are not deployable on DPUCZDX8G).
/// - Then ``DPUConstraints`` moves positions until every shift is in the DPU's range.
/// - LeakyReLU takes the DPU's slope 26/256; a model with another slope gets a warning.
enum DPUScheme {
    /// The rounding of activations the DPU computes.
    static let activationRounding = RoundMode.halfUp
    /// The rounding of weights, biases and inputs.
    static let parameterRounding = RoundMode.halfAwayFromZero

    /// The plan for `graph` from its structure and calibration, and the graph with the DPU's
    /// LeakyReLU slope.
    ///
    /// - Returns: the graph as quantized, the plan, and warnings for the report.
    static func plan(
        _ graph: Graph, structure: DPUStructure, observers: [String: TensorObserver], config: QuantizationConfig,
        samples: Int
    ) -> (graph: Graph, plan: QuantizationPlan, warnings: [String]) {
        var graph = graph
        var warnings: [String] = []
        let slope = FixedPoint.leakyReluSlopeValue
        for (index, alpha) in structure.leakyRelus {
            if Swift.abs(alpha - slope) > 1e-6 {
                let name = graph.nodes[index].name
                warnings.append("LeakyReLU '\(name)': slope \(alpha) replaced by the DPU's 26/256 = \(slope)")
            }
            graph.nodes[index].attributes["alpha"] = .float(slope)
        }
        // Calibrated positions, then the smallest per group.
        var own: [String: Int] = [:]
        for name in structure.activations {
            let mode = structure.inputs.contains(name) ? parameterRounding : activationRounding
            own[name] =
                observers[name]?.fixPosition(method: config.method, percentile: config.percentile, mode: mode)
                ?? FixPositions.allZero
        }
        let groups = structure.groups
        var groupPositions: [String: Int] = [:]
        for (name, position) in own {
            let root = groups.root(name)
            groupPositions[root] = min(groupPositions[root] ?? position, position)
        }
        var constantPositions: [String: Int] = [:]
        let constantsByName = Dictionary(
            graph.initializers.map { (graph[$0.key].name, $0.value) }, uniquingKeysWith: { first, _ in first })
        for (name, role) in structure.constants {
            let values = constantsByName[name]?.doubleScalars() ?? []
            switch role {
            case .weight, .operand:
                constantPositions[name] = MSERange.fixPosition(values: values, mode: parameterRounding)
            case .bias:
                var observed = MinMaxObserver()
                observed.add(values)
                constantPositions[name] =
                    observed.isEmpty
                    ? FixPositions.allZero : FixPositions.nonOverflow(min: observed.min, max: observed.max)
            }
        }
        var constraints = DPUConstraints(
            groups: groups, groupPositions: groupPositions, constantPositions: constantPositions)
        _ = constraints.enforce(structure.layers, relu6Outputs: structure.relu6Outputs)

        var plan = QuantizationPlan(
            scale: .pow2, target: config.target?.name, method: config.method, calibrationSamples: samples)
        for name in structure.activations {
            let mode = structure.inputs.contains(name) ? parameterRounding : activationRounding
            var entry = TensorQuantization.fixPosition(
                constraints.position(name), roundMode: mode, method: config.method)
            let root = groups.root(name)
            if constraints.moved.contains(root) {
                entry.note = "adjusted for the DPU's shift ranges (see adjustments)"
            } else if entry.fixPosition != own[name] {
                entry.note = "shares the fix position of '\(root)' (concat / pool / reshape alignment)"
            }
            plan.tensors[name] = entry
        }
        for name in structure.constants.keys {
            var entry = TensorQuantization.fixPosition(constraints.position(name), roundMode: parameterRounding)
            if constraints.moved.contains(name) { entry.note = "adjusted for the DPU's shift ranges (see adjustments)" }
            plan.tensors[name] = entry
        }
        plan.adjustments = constraints.log
        plan.layers = structure.layers.map { layer in
            var layer = layer
            layer.shifts = constraints.shifts(of: layer)
            return layer
        }
        return (graph, plan, warnings)
    }
}
