import KilnTargets

/// What a program costs on its DPU: instruction counts, DDR traffic and the predicted time.
public struct DPUProgramCost: Codable, Sendable, Equatable {
    /// Instructions by opcode (`LOAD`, `CONV`, …).
    public var instructionCounts: [String: Int]
    /// Bytes loaded from DDR (weights and feature maps).
    public var loadBytes: Int
    /// Bytes stored to DDR.
    public var storeBytes: Int
    /// Engine cycles (compute instructions, from ``DPUCostModel``).
    public var computeCycles: Int
    /// Predicted seconds of one call: per layer the larger of compute time and DDR time
    /// (load and compute overlap), summed, plus the call overhead; `nil` when the
    /// architecture's clock or parallelism is not public.
    public var predictedSeconds: Double?
}

extension DPUProgram {
    /// Instruction count, traffic and predicted time on `architecture` (its default clock
    /// and bandwidth, or `board`'s), with ``DPUCostModel``'s figures.
    public func cost(on architecture: DPUArchitecture, board: BoardConfiguration? = nil) -> DPUProgramCost {
        var counts: [String: Int] = [:]
        var load = 0
        var store = 0
        var cycles = 0
        var layerCycles = [Int](repeating: 0, count: layers.count)
        var layerBytes = [Int](repeating: 0, count: layers.count)
        for instruction in instructions {
            counts[instruction.opcode.rawValue, default: 0] += 1
            switch instruction.opcode {
            case .load: load += instruction.bytes
            case .save: store += instruction.bytes
            default: cycles += instruction.cycles
            }
            if layers.indices.contains(instruction.layer) {
                layerCycles[instruction.layer] += instruction.cycles
                layerBytes[instruction.layer] += instruction.bytes
            }
        }
        var seconds: Double?
        if let model = DPUCostModel(architecture: architecture, board: board) {
            let clock = Double(model.clockMHz) * 1e6
            let rate = model.bandwidth?.bytesPerSecond
            seconds =
                model.subgraphCallSeconds
                + zip(layerCycles, layerBytes).reduce(0) { total, layer in
                    total + max(Double(layer.0) / clock, rate.map { Double(layer.1) / $0 } ?? 0)
                }
        }
        return DPUProgramCost(
            instructionCounts: counts, loadBytes: load, storeBytes: store, computeCycles: cycles,
            predictedSeconds: seconds)
    }
}
