/// One DPU configuration of the catalog: its parallelism, clock, memories, fingerprint and
/// the operators it runs within which limits.
///
/// Every figure comes from a public AMD/Xilinx source named in ``sources`` and in the
/// catalog file that builds the entry. A figure no public source gives is `nil`, and
/// ``notPublic`` lists them; Kiln never fills one in by guesswork.
///
/// ```swift
/// let b4096 = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
/// b4096.peakOpsPerCycle      // 4096 = PP 8 × ICP 16 × OCP 16 × 2
/// b4096.limits.conv?.kernel  // 1..16
/// ```
///
/// ### See Also
/// - ``Catalog``
/// - ``ArchJSON``
public struct DPUArchitecture: Codable, Sendable, Hashable {
    /// The target name, e.g. `DPUCZDX8G_ISA1_B4096`.
    public var name: String
    /// The IP family.
    public var family: DPUFamily
    /// The ISA version (the fingerprint's second byte).
    public var isaVersion: Int?
    /// Other names that select this entry (legacy TVM names, Vitis AI spellings).
    public var aliases: [String]
    /// The fingerprint, or `nil` where the configuration's feature code is not public.
    public var fingerprint: Fingerprint?
    /// One line on what and where it is.
    public var summary: String
    /// Pixel parallelism (PP) of the conv engine, per batch.
    public var pixelParallelism: Int?
    /// Input-channel parallelism (ICP, the compiler's `channel_parallel`).
    public var inputChannelParallelism: Int?
    /// Output-channel parallelism (OCP).
    public var outputChannelParallelism: Int?
    /// Batches one core computes at once (DPUCVDX8G, DPUCADF8H); 1 elsewhere.
    public var batch: Int?
    /// Pixel parallelism of the ALU (depthwise, pooling) and eltwise engines.
    public var aluPixelParallelism: Int?
    /// Peak ops per clock of one core (DPUCAHX8H: of one engine; DPUCVDX8G: of the AI
    /// Engine array), a MAC counting 2 ops.
    public var peakOpsPerCycle: Int?
    /// The clock ``peakOpsPerCycle`` runs at by default, in MHz (boards list their own).
    public var clockMHz: Int?
    /// DPU cores of the default board.
    public var cores: Int?
    /// On-chip buffers.
    public var onChipMemory: OnChipMemory
    /// External memory path.
    public var externalMemory: ExternalMemory
    /// The int8 range activations are clamped to (DPUCADF8H uses −127…127).
    public var activationRange: IntRange
    /// What runs on the DPU, within which limits.
    public var limits: OperatorLimits
    /// Boards that ship this configuration.
    public var boards: [BoardConfiguration]
    /// Facts a user should know that have no field.
    public var notes: [String]
    /// Source keys (see `shared/reference/dpu-architecture.md`): PG338, UG1414, TF, …
    public var sources: [String]

    /// Creates an entry. Catalog files call this; users look entries up in ``Catalog``.
    public init(
        name: String, family: DPUFamily, isaVersion: Int?, aliases: [String] = [],
        fingerprint: Fingerprint?, summary: String,
        pixelParallelism: Int?, inputChannelParallelism: Int?, outputChannelParallelism: Int?,
        batch: Int?, aluPixelParallelism: Int?, peakOpsPerCycle: Int?, clockMHz: Int?, cores: Int?,
        onChipMemory: OnChipMemory, externalMemory: ExternalMemory,
        activationRange: IntRange = IntRange(-128, 127), limits: OperatorLimits,
        boards: [BoardConfiguration] = [], notes: [String] = [], sources: [String]
    ) {
        self.name = name
        self.family = family
        self.isaVersion = isaVersion
        self.aliases = aliases
        self.fingerprint = fingerprint
        self.summary = summary
        self.pixelParallelism = pixelParallelism
        self.inputChannelParallelism = inputChannelParallelism
        self.outputChannelParallelism = outputChannelParallelism
        self.batch = batch
        self.aluPixelParallelism = aluPixelParallelism
        self.peakOpsPerCycle = peakOpsPerCycle
        self.clockMHz = clockMHz
        self.cores = cores
        self.onChipMemory = onChipMemory
        self.externalMemory = externalMemory
        self.activationRange = activationRange
        self.limits = limits
        self.boards = boards
        self.notes = notes
        self.sources = sources
    }

    /// Peak GOPS of one core at ``clockMHz``, when both figures are public.
    public var peakGOPS: Double? {
        guard let peakOpsPerCycle, let clockMHz else { return nil }
        return Double(peakOpsPerCycle) * Double(clockMHz) / 1000
    }

    /// The decoded feature code, for DPUCZDX8G entries with a fingerprint.
    public var featureCode: DPUCZDX8GFeatureCode? {
        guard family == .dpuczdx8g, let fingerprint else { return nil }
        return DPUCZDX8GFeatureCode(rawValue: fingerprint.featureCode)
    }

    /// The name and every alias.
    public var allNames: [String] { [name] + aliases }

    /// The board a legacy alias selects (`DPUCZDX8G-zcu102` → ZCU102), matched like names.
    public func board(forAlias alias: String) -> BoardConfiguration? {
        let key = Catalog.normalized(alias)
        return boards.first { $0.alias.map(Catalog.normalized) == key }
    }

    /// The top-level figures that are not public, by JSON key (`clock_mhz`, …).
    public var notPublic: [String] {
        let figures: [(String, Bool)] = [
            ("fingerprint", fingerprint == nil),
            ("pixel_parallelism", pixelParallelism == nil),
            ("input_channel_parallelism", inputChannelParallelism == nil),
            ("output_channel_parallelism", outputChannelParallelism == nil),
            ("batch", batch == nil),
            ("alu_pixel_parallelism", aluPixelParallelism == nil),
            ("peak_ops_per_cycle", peakOpsPerCycle == nil),
            ("clock_mhz", clockMHz == nil),
            ("cores", cores == nil),
            ("bank_depth", onChipMemory.bankDepth == nil),
            ("image_banks", onChipMemory.imageBanks == nil),
            ("image_kib", onChipMemory.imageKiB == nil),
            ("conv_weight_kib", onChipMemory.convWeightKiB == nil),
            ("depthwise_weight_bias_kib", onChipMemory.depthwiseWeightBiasKiB == nil),
            ("external_memory.bandwidth_mbps", externalMemory.bandwidthMBps == nil),
            ("external_memory.data_ports", externalMemory.dataPorts == nil),
        ]
        return figures.filter(\.1).map(\.0)
    }

    private enum CodingKeys: String, CodingKey {
        case name, family, isaVersion = "isa_version", aliases, fingerprint, summary
        case pixelParallelism = "pixel_parallelism", inputChannelParallelism = "input_channel_parallelism"
        case outputChannelParallelism = "output_channel_parallelism", batch
        case aluPixelParallelism = "alu_pixel_parallelism", peakOpsPerCycle = "peak_ops_per_cycle"
        case clockMHz = "clock_mhz", cores, onChipMemory = "on_chip_memory"
        case externalMemory = "external_memory", activationRange = "activation_range", limits
        case boards, notes, sources
    }

    /// Encodes every field, `null` for a figure that is not public.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(family, forKey: .family)
        try container.encode(isaVersion, forKey: .isaVersion)
        try container.encode(aliases, forKey: .aliases)
        try container.encode(fingerprint, forKey: .fingerprint)
        try container.encode(summary, forKey: .summary)
        try container.encode(pixelParallelism, forKey: .pixelParallelism)
        try container.encode(inputChannelParallelism, forKey: .inputChannelParallelism)
        try container.encode(outputChannelParallelism, forKey: .outputChannelParallelism)
        try container.encode(batch, forKey: .batch)
        try container.encode(aluPixelParallelism, forKey: .aluPixelParallelism)
        try container.encode(peakOpsPerCycle, forKey: .peakOpsPerCycle)
        try container.encode(clockMHz, forKey: .clockMHz)
        try container.encode(cores, forKey: .cores)
        try container.encode(onChipMemory, forKey: .onChipMemory)
        try container.encode(externalMemory, forKey: .externalMemory)
        try container.encode(activationRange, forKey: .activationRange)
        try container.encode(limits, forKey: .limits)
        try container.encode(boards, forKey: .boards)
        try container.encode(notes, forKey: .notes)
        try container.encode(sources, forKey: .sources)
    }
}
