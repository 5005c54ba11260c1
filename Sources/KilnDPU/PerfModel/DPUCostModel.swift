import KilnTargets

/// The time one operation takes, and what it moves.
public struct OperationCost: Codable, Sendable, Hashable {
    /// Engine cycles at the DPU clock.
    public var computeCycles: Int
    /// Weight and bias bytes loaded from DDR (vaitrace `LdWB`).
    public var weightLoadBytes: Int
    /// Feature-map bytes loaded from DDR (vaitrace `LdFM`).
    public var featureLoadBytes: Int
    /// Feature-map bytes stored to DDR (vaitrace `StFM`).
    public var storeBytes: Int
    /// `computeCycles` at the clock.
    public var computeSeconds: Double
    /// All loads and stores at the board's bandwidth (0 when it is not known).
    public var memorySeconds: Double
    /// The transfers that cannot overlap compute: the first tile's loads, the last row's store.
    public var exposedMemorySeconds: Double
    /// `max(compute, memory) + exposed`: loads and stores overlap the engine.
    public var seconds: Double
}

/// Predicts cycles and time of ``DPUOperation``s on one DPU configuration of one board.
///
/// Everything comes from the architecture and published figures, nothing is fitted per
/// model (see `docs/performance-model.md`):
/// - **Compute.** The conv engine does PP pixels (along a row) × ICP input channels ×
///   OCP output channels per cycle, so a conv takes
///   `rows · ceil(width/PP) · taps · ceil(ic/ICP) · ceil(oc/OCP)` cycles. With channel
///   augmentation (a feature-code bit) the load engine packs kernel columns of a
///   few-channel input into `2·ICP` channels (the first layer). Depthwise conv, pooling
///   and element-wise ops run on the ALU: ALU PP pixels × ICP channels, one window tap per
///   cycle. Misc ops make one such pass.
/// - **Memory.** Each operation loads its weights and input feature maps and stores its
///   output (``DPUWorkload`` says which stay on chip). Weights are loaded once when they
///   fit the weight bank or the input fits an image bank group; otherwise the cheaper
///   operand is reloaded per tile of the other. Transfers run at the board's sustained
///   bandwidth (``MemoryBandwidth``) and overlap compute, except the first tile's loads
///   and the last row's store.
///
/// ```swift
/// let b4096 = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
/// let model = DPUCostModel(architecture: b4096, board: b4096.boards.first)
/// let cost = model?.cost(of: conv)   // cycles, bytes, seconds
/// ```
public struct DPUCostModel: Sendable, Hashable {
    /// The target's name.
    public var target: String
    /// The board, if one was given.
    public var board: String?
    /// Conv-engine pixel parallelism (PP).
    public var pixelParallelism: Int
    /// Input-channel parallelism (ICP).
    public var inputChannelParallelism: Int
    /// Output-channel parallelism (OCP).
    public var outputChannelParallelism: Int
    /// ALU pixel parallelism (depthwise, pooling, element-wise).
    public var aluPixelParallelism: Int
    /// The channels the load engine packs kernel columns into (`2·ICP`), when the target
    /// has channel augmentation.
    public var augmentedChannels: Int?
    /// The DPU clock in MHz.
    public var clockMHz: Int
    /// DPU cores on the board.
    public var cores: Int
    /// Frames the board computes at once: cores × engines per core × batch.
    public var lanes: Int
    /// The conv weight bank, in bytes.
    public var weightBankBytes: Int?
    /// One image bank group, in bytes (what one operand of a layer can occupy).
    public var featureBankBytes: Int?
    /// The DDR bandwidth one core gets, when any figure is published.
    public var bandwidth: MemoryBandwidth?
    /// The CPU-side work around each frame, when known for the board's processor.
    public var host: HostModel?
    /// Fixed cost of one DPU subgraph call, in seconds (see ``subgraphCallOverhead``).
    public var subgraphCallSeconds: Double
    /// Figures the model had to assume, in words (shown in reports).
    public var assumptions: [String]

    /// The time vaitrace shows for a DPU subgraph with no work: 0.17 ms
    /// (`subgraph_fake_downsample_*`, 0 GOP, no memory traffic; UG1414 v3.5 ch. 6, in
    /// `reference/ug1414-digest.md` §9). It is the call itself: starting the DPU, fetching
    /// the first instructions, the completion interrupt.
    public static let subgraphCallOverhead = 0.17e-3

    /// The model of `architecture` on `board` (its clock and cores; the architecture's
    /// defaults when `board` is `nil`), or `nil` when a figure it needs is not public
    /// (``missingFigures(architecture:board:)`` lists them).
    public init?(architecture: DPUArchitecture, board: BoardConfiguration?) {
        guard Self.missingFigures(architecture: architecture, board: board).isEmpty,
            let pp = architecture.pixelParallelism, let icp = architecture.inputChannelParallelism,
            let ocp = architecture.outputChannelParallelism, let clock = board?.clockMHz ?? architecture.clockMHz
        else { return nil }
        var assumptions: [String] = []
        target = architecture.name
        self.board = board?.name
        pixelParallelism = pp
        inputChannelParallelism = icp
        outputChannelParallelism = ocp
        if let alu = architecture.aluPixelParallelism {
            aluPixelParallelism = alu
        } else {
            aluPixelParallelism = max(1, pp / 2)
            assumptions.append("ALU pixel parallelism not public: PP/2 = \(max(1, pp / 2)) (PG338's depthwise rule)")
        }
        augmentedChannels = architecture.featureCode?.hasChannelAugmentation == true ? 2 * icp : nil
        clockMHz = clock
        cores = board?.cores ?? architecture.cores ?? 1
        let engines = board?.enginesPerCore.map { $0.reduce(0, +) } ?? cores
        lanes = max(1, engines) * max(1, architecture.batch ?? 1)
        let memory = architecture.onChipMemory
        weightBankBytes = memory.convWeightKiB.map { $0 * 1024 } ?? memory.bankDepth.map { $0 * icp * ocp }
        if let kib = memory.imageKiB {
            featureBankBytes = kib * 1024 / max(1, memory.imageBankGroups ?? 1)
        } else if let depth = memory.bankDepth, let banks = memory.imageBanks {
            featureBankBytes = depth * banks * icp
        } else {
            featureBankBytes = nil
            assumptions.append("image bank size not public: feature maps are never reloaded")
        }
        bandwidth = MemoryBandwidth.sustained(architecture: architecture, board: board, clockMHz: clock)
        if bandwidth == nil {
            assumptions.append("DDR bandwidth not public: memory time not modelled (compute-bound estimate)")
        }
        host = HostModel.forFamily(architecture.family)
        if host == nil {
            assumptions.append("host (CPU-side) time not modelled for \(architecture.family) boards")
        }
        subgraphCallSeconds = Self.subgraphCallOverhead
        self.assumptions = assumptions
    }

    /// The figures the model needs that `architecture` (with `board`) does not publish,
    /// by catalog key; empty when the model can be built.
    public static func missingFigures(architecture: DPUArchitecture, board: BoardConfiguration?) -> [String] {
        var missing: [String] = []
        if architecture.pixelParallelism == nil { missing.append("pixel_parallelism") }
        if architecture.inputChannelParallelism == nil { missing.append("input_channel_parallelism") }
        if architecture.outputChannelParallelism == nil { missing.append("output_channel_parallelism") }
        if (board?.clockMHz ?? architecture.clockMHz) == nil { missing.append("clock_mhz") }
        return missing
    }

    /// Compute cycles of `operation` on `architecture` with its default clock, or `nil`
    /// when the architecture's parallelism is not public.
    public static func cycles(for operation: DPUOperation, on architecture: DPUArchitecture) -> Int? {
        DPUCostModel(architecture: architecture, board: nil)?.cycles(for: operation)
    }

    /// Engine cycles of `operation` (memory not included).
    public func cycles(for operation: DPUOperation) -> Int {
        switch operation.engine {
        case .conv:
            return convCycles(operation)
        case .depthwise, .pool:
            return aluSteps(operation.output) * windowTaps(operation).reduce(1, *)
        case .eltwise:
            return aluSteps(operation.output) * max(1, operation.inputs.count - 1)
        case .misc:
            let larger = ([operation.output] + operation.inputs.map(\.shape)).max { $0.elements < $1.elements }
            return aluSteps(larger ?? operation.output)
        case .load, .save:
            return 0
        }
    }

    /// Cycles, bytes and seconds of `operation`.
    public func cost(of operation: DPUOperation) -> OperationCost {
        let cycles = cycles(for: operation)
        let traffic = traffic(of: operation)
        let compute = Double(cycles) / (Double(clockMHz) * 1e6)
        let bytes = traffic.weights + traffic.features + operation.storeBytes
        let rate = bandwidth?.bytesPerSecond
        let memory = rate.map { Double(bytes) / $0 } ?? 0
        let exposed = rate.map { Double(exposedBytes(of: operation)) / $0 } ?? 0
        return OperationCost(
            computeCycles: cycles, weightLoadBytes: traffic.weights, featureLoadBytes: traffic.features,
            storeBytes: operation.storeBytes, computeSeconds: compute, memorySeconds: memory,
            exposedMemorySeconds: exposed, seconds: max(compute, memory) + exposed)
    }

    // MARK: - Compute

    /// `rows · ceil(width / ALU PP) · ceil(channels / ICP)`: one ALU pass over `shape`.
    func aluSteps(_ shape: FeatureShape) -> Int {
        shape.rows * ceilDiv(shape.width, aluPixelParallelism) * ceilDiv(shape.channels, inputChannelParallelism)
    }

    /// The window taps each output pixel needs per axis (`ceil(k / stride)` when transposed).
    func windowTaps(_ operation: DPUOperation) -> [Int] {
        guard operation.isTransposed else { return operation.kernel }
        return zip(operation.kernel, operation.strides).map { ceilDiv($0, max(1, $1)) }
    }

    /// The conv engine: pixel steps × kernel rows × column steps × channel blocks.
    func convCycles(_ operation: DPUOperation) -> Int {
        let output = operation.output
        let pixelSteps = output.rows * ceilDiv(output.width, pixelParallelism)
        let taps = windowTaps(operation)
        let columns = taps.last ?? 1
        let otherTaps = taps.dropLast().reduce(1, *)
        let groups = operation.groups
        let inputChannels = max(1, operation.inputChannels / groups)
        let icp = inputChannelParallelism
        let outputBlocks = ceilDiv(max(1, output.channels / groups), outputChannelParallelism)
        var columnSteps = columns * ceilDiv(inputChannels, icp)
        if let packed = augmentedChannels, groups == 1, inputChannels < icp, columns > 1 {
            // Channel augmentation: `packed / ic` kernel columns share one channel block.
            let perBlock = max(1, packed / inputChannels)
            columnSteps = ceilDiv(columns, perBlock) * ceilDiv(min(perBlock, columns) * inputChannels, icp)
        }
        return pixelSteps * otherTaps * columnSteps * groups * outputBlocks
    }

    // MARK: - Memory

    /// Weight and feature bytes loaded: each once when either operand fits its bank, else
    /// the cheaper of reloading features per weight tile or weights per feature tile.
    func traffic(of operation: DPUOperation) -> (weights: Int, features: Int) {
        let weights = operation.weightBytes
        let features = operation.featureLoadBytes
        guard let weightBank = weightBankBytes, let featureBank = featureBankBytes,
            operation.engine == .conv, weights > weightBank, features > featureBank
        else { return (weights, features) }
        let reloadFeatures = (weights: weights, features: features * ceilDiv(weights, weightBank))
        let reloadWeights = (weights: weights * ceilDiv(features, featureBank), features: features)
        let featuresCost = reloadFeatures.weights + reloadFeatures.features
        return featuresCost <= reloadWeights.weights + reloadWeights.features ? reloadFeatures : reloadWeights
    }

    /// What must arrive before the engine starts and leave after it stops: one output
    /// channel block of weights, the input rows under the first window, one output row.
    func exposedBytes(of operation: DPUOperation) -> Int {
        let taps = windowTaps(operation).reduce(1, *)
        let channels = max(1, operation.inputChannels / operation.groups)
        let perBlock = operation.engine == .conv
            ? taps * roundUp(channels, inputChannelParallelism) * outputChannelParallelism
            : taps * inputChannelParallelism
        let firstWeights = min(operation.weightBytes, perBlock)
        let windowRows = operation.kernel.dropLast().reduce(1, *)
        let firstRows = operation.inputs.filter(\.isLoaded).reduce(0) { total, input in
            total + min(input.shape.elements, windowRows * input.shape.width * input.shape.channels)
        }
        let lastRow = min(operation.storeBytes, operation.output.width * operation.output.channels)
        return firstWeights + firstRows + lastRow
    }
}

/// `ceil(a / b)` for positive `b`.
func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }

/// `a` rounded up to a multiple of `b`.
func roundUp(_ a: Int, _ b: Int) -> Int { ceilDiv(a, b) * b }
