import KilnIR

/// The predicted time of one DPU subgraph: vaitrace's summary columns, and where the time goes.
public struct SubgraphPerformance: Codable, Sendable, Hashable {
    /// The subgraph's id.
    public var id: Int
    /// The `dpu_subgraph` node's name.
    public var name: String
    /// Operations (layers) in it.
    public var operations: Int
    /// Workload in GOP, a MAC counting 2 ops (`WL`).
    public var gop: Double
    /// Predicted run time of one call, in ms (`RT`), the call overhead included.
    public var latencyMs: Double
    /// `1000 / latencyMs`.
    public var fps: Double
    /// `gop / latency` in GOP/s (`Perf`).
    public var gopsPerSecond: Double
    /// Weights and biases loaded, in bytes (`LdWB`).
    public var weightLoadBytes: Int
    /// Feature maps loaded, in bytes (`LdFM`).
    public var featureLoadBytes: Int
    /// Feature maps stored, in bytes (`StFM`).
    public var storeBytes: Int
    /// All loads and stores over the run time, in MB/s (`AvgBw`).
    public var bandwidthMBps: Double
    /// Summed engine time of its operations, in ms, as if nothing overlapped.
    public var computeMs: Double
    /// Summed DDR transfer time, in ms, as if nothing overlapped.
    public var memoryMs: Double
    /// Time per engine (each operation's overlapped time charged to its engine), in ms.
    public var engineMs: [String: Double]

    private enum CodingKeys: String, CodingKey {
        case id, name, operations, gop, latencyMs = "latency_ms", fps, gopsPerSecond = "gops_per_second"
        case weightLoadBytes = "load_weight_bytes", featureLoadBytes = "load_feature_bytes"
        case storeBytes = "store_bytes", bandwidthMBps = "bandwidth_mbps", computeMs = "compute_ms"
        case memoryMs = "memory_ms", engineMs = "engine_ms"
    }
}

/// The `"device"` object of `kiln inspect --perf --json` (and of `kiln bench --json`):
/// batch 1, single thread, end to end.
public struct DeviceSummary: Codable, Sendable, Hashable {
    /// The target's name.
    public var target: String
    /// The DPU clock in MHz.
    public var clockMHz: Int
    /// DPU cores on the board.
    public var cores: Int
    /// Predicted end-to-end latency of one frame, in ms (host work included).
    public var predictedLatencyMs: Double
    /// `1000 / predictedLatencyMs`: single-thread FPS.
    public var predictedFPS: Double
    /// FPS with every core busy and the host work overlapped.
    public var predictedFPSMT: Double
    /// DPU workload in GOP.
    public var gop: Double
    /// Bytes loaded from DDR per frame (weights and feature maps).
    public var loadBytes: Int
    /// Bytes stored to DDR per frame.
    public var storeBytes: Int

    private enum CodingKeys: String, CodingKey {
        case target, clockMHz = "clock_mhz", cores, predictedLatencyMs = "predicted_latency_ms"
        case predictedFPS = "predicted_fps", predictedFPSMT = "predicted_fps_mt", gop
        case loadBytes = "load_bytes", storeBytes = "store_bytes"
    }
}

/// The performance model's prediction for a partitioned model on one board.
///
/// ```swift
/// let inspection = try InspectPipeline.inspect(graph, target: b4096)
/// guard let model = DPUCostModel(architecture: b4096, board: zcu102) else { … }
/// let prediction = PerformanceModel.predict(inspection.partition.graph, with: model)
/// print(prediction.text)
/// prediction.device.predictedFPS
/// ```
public struct PerformancePrediction: Codable, Sendable, Hashable {
    /// The target's name.
    public var target: String
    /// The board's name, if one was given.
    public var board: String?
    /// The DPU clock in MHz.
    public var clockMHz: Int
    /// DPU cores on the board.
    public var cores: Int
    /// Frames the board computes at once (cores × engines × batch).
    public var lanes: Int
    /// The DDR bandwidth used, with its source (`nil`: not modelled).
    public var bandwidth: MemoryBandwidth?
    /// Each DPU subgraph.
    public var subgraphs: [SubgraphPerformance]
    /// CPU-side time per frame (pre/post-processing, transitions), in ms.
    public var hostMs: Double
    /// All subgraph calls of a frame, in ms.
    public var dpuMs: Double
    /// `hostMs + dpuMs`.
    public var latencyMs: Double
    /// `1000 / latencyMs`.
    public var fps: Double
    /// `lanes · 1000 / dpuMs`: every core busy, host work overlapped, DDR not shared.
    public var fpsMT: Double
    /// Nodes outside the DPU subgraphs (their CPU time is not modelled).
    public var cpuNodes: Int
    /// What the model assumed, in words.
    public var assumptions: [String]

    /// Workload of the whole model in GOP.
    public var gop: Double { subgraphs.reduce(0) { $0 + $1.gop } }

    /// The `"device"` object.
    public var device: DeviceSummary {
        DeviceSummary(
            target: target, clockMHz: clockMHz, cores: cores, predictedLatencyMs: latencyMs, predictedFPS: fps,
            predictedFPSMT: fpsMT, gop: gop,
            loadBytes: subgraphs.reduce(0) { $0 + $1.weightLoadBytes + $1.featureLoadBytes },
            storeBytes: subgraphs.reduce(0) { $0 + $1.storeBytes })
    }

    private enum CodingKeys: String, CodingKey {
        case target, board, clockMHz = "clock_mhz", cores, lanes, bandwidth, subgraphs
        case hostMs = "host_ms", dpuMs = "dpu_ms", latencyMs = "latency_ms", fps, fpsMT = "fps_mt"
        case cpuNodes = "cpu_nodes", assumptions
    }
}

/// Predicts device latency and FPS of partitioned graphs (see ``DPUCostModel``, ``HostModel``).
public enum PerformanceModel {
    /// The prediction for `graph` with `model`.
    ///
    /// - Parameters:
    ///   - graph: A partitioned graph (its `dpu_subgraph` bodies with static shapes).
    ///   - model: The cost model of the target and board.
    public static func predict(_ graph: Graph, with model: DPUCostModel) -> PerformancePrediction {
        let workloads = DPUWorkload.build(from: graph)
        let subgraphs = workloads.map { predict($0, with: model) }
        let dpuMs = subgraphs.reduce(0) { $0 + $1.latencyMs }
        let constants = Set(graph.initializers.keys)
        let ends = graph.inputs.filter { !constants.contains($0) } + graph.outputs
        let elements = ends.reduce(0) { $0 + (graph[$1].type.staticShape?.reduce(1, *) ?? 0) }
        let boundary = Set(ends)
        let transitions = graph.nodes.filter { $0.op == .dpuSubgraph }.reduce(0) { total, node in
            total + (node.inputs.compactMap { $0 } + node.outputs.compactMap { $0 }).filter { !boundary.contains($0) }.count
        }
        let hostMs = (model.host?.seconds(elements: elements, transitions: transitions) ?? 0) * 1e3
        var assumptions = model.assumptions
        let cpuNodes = graph.nodes.filter { $0.op != .dpuSubgraph }.count
        if cpuNodes > 0 { assumptions.append("\(cpuNodes) node(s) run on the CPU; their time is not modelled") }
        let unmodelled = workloads.flatMap(\.unmodelledNodes)
        if !unmodelled.isEmpty {
            assumptions.append("\(unmodelled.count) DPU node(s) without static shapes are not timed")
        }
        let latencyMs = hostMs + dpuMs
        return PerformancePrediction(
            target: model.target, board: model.board, clockMHz: model.clockMHz, cores: model.cores, lanes: model.lanes,
            bandwidth: model.bandwidth, subgraphs: subgraphs, hostMs: hostMs, dpuMs: dpuMs, latencyMs: latencyMs,
            fps: latencyMs > 0 ? 1000 / latencyMs : 0, fpsMT: dpuMs > 0 ? Double(model.lanes) * 1000 / dpuMs : 0,
            cpuNodes: cpuNodes, assumptions: assumptions)
    }

    /// The prediction for one subgraph: its operations one after another, plus the call.
    public static func predict(_ workload: SubgraphWorkload, with model: DPUCostModel) -> SubgraphPerformance {
        var seconds = model.subgraphCallSeconds
        var compute = 0.0
        var memory = 0.0
        var weights = 0
        var features = 0
        var stores = 0
        var engines: [String: Double] = [:]
        for operation in workload.operations {
            let cost = model.cost(of: operation)
            seconds += cost.seconds
            compute += cost.computeSeconds
            memory += cost.memorySeconds
            weights += cost.weightLoadBytes
            features += cost.featureLoadBytes
            stores += cost.storeBytes
            engines[operation.engine.rawValue, default: 0] += cost.seconds * 1e3
        }
        let latencyMs = seconds * 1e3
        return SubgraphPerformance(
            id: workload.id, name: workload.name, operations: workload.operations.count, gop: workload.gop,
            latencyMs: latencyMs, fps: 1000 / latencyMs, gopsPerSecond: workload.gop / seconds,
            weightLoadBytes: weights, featureLoadBytes: features, storeBytes: stores,
            bandwidthMBps: Double(weights + features + stores) / seconds / 1e6, computeMs: compute * 1e3,
            memoryMs: memory * 1e3, engineMs: engines)
    }
}
