/// The on-chip buffers as the compiler sees them (not BRAM counts).
///
/// For DPUCZDX8G a bank is `ICP` bytes wide and `bankDepth` deep; the image banks form
/// `imageBankGroups` groups (VB0, VB1) of `imageBanks` banks each.
public struct OnChipMemory: Codable, Sendable, Hashable {
    /// Depth of a bank in words (`bank_depth`), the bound in the size rules.
    public var bankDepth: Int?
    /// Banks per image group (`bank_num`).
    public var imageBanks: Int?
    /// Image bank groups (2: VB0 and VB1).
    public var imageBankGroups: Int?
    /// All image banks together, in KiB.
    public var imageKiB: Int?
    /// The conv weight bank, in KiB.
    public var convWeightKiB: Int?
    /// Depthwise weights plus biases, in KiB.
    public var depthwiseWeightBiasKiB: Int?

    /// Creates an on-chip memory description; unknown figures are `nil`.
    public init(
        bankDepth: Int?, imageBanks: Int? = nil, imageBankGroups: Int? = nil, imageKiB: Int? = nil,
        convWeightKiB: Int? = nil, depthwiseWeightBiasKiB: Int? = nil
    ) {
        self.bankDepth = bankDepth
        self.imageBanks = imageBanks
        self.imageBankGroups = imageBankGroups
        self.imageKiB = imageKiB
        self.convWeightKiB = convWeightKiB
        self.depthwiseWeightBiasKiB = depthwiseWeightBiasKiB
    }

    private enum CodingKeys: String, CodingKey {
        case bankDepth = "bank_depth", imageBanks = "image_banks", imageBankGroups = "image_bank_groups"
        case imageKiB = "image_kib", convWeightKiB = "conv_weight_kib"
        case depthwiseWeightBiasKiB = "depthwise_weight_bias_kib"
    }

    /// Encodes every field, `null` for a figure that is not public.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bankDepth, forKey: .bankDepth)
        try container.encode(imageBanks, forKey: .imageBanks)
        try container.encode(imageBankGroups, forKey: .imageBankGroups)
        try container.encode(imageKiB, forKey: .imageKiB)
        try container.encode(convWeightKiB, forKey: .convWeightKiB)
        try container.encode(depthwiseWeightBiasKiB, forKey: .depthwiseWeightBiasKiB)
    }
}

/// Memory traffic published for one workload, in MB/s.
public struct MeasuredTraffic: Codable, Sendable, Hashable {
    /// Which traffic the figures count.
    public enum Direction: String, Codable, Sendable, Hashable {
        /// Reads and writes together.
        case total
        /// Reads only.
        case read
        /// Writes only.
        case write
    }

    /// The workload, e.g. `ResNet50`.
    public var workload: String
    /// Which traffic the figures count.
    public var direction: Direction
    /// Peak traffic in MB/s.
    public var peakMBps: Int
    /// Average traffic in MB/s.
    public var averageMBps: Int

    /// Creates a measurement.
    public init(workload: String, direction: Direction, peakMBps: Int, averageMBps: Int) {
        self.workload = workload
        self.direction = direction
        self.peakMBps = peakMBps
        self.averageMBps = averageMBps
    }

    private enum CodingKeys: String, CodingKey {
        case workload, direction, peakMBps = "peak_mbps", averageMBps = "average_mbps"
    }
}

/// The DPU's path to external memory (DDR or HBM).
public struct ExternalMemory: Codable, Sendable, Hashable {
    /// The memory technology.
    public enum Kind: String, Codable, Sendable, Hashable {
        /// DDR4 (Zynq, Versal, Alveo U200/U250).
        case ddr
        /// High-bandwidth memory (Alveo U50, U55C, U280).
        case hbm
    }

    /// The memory technology.
    public var kind: Kind
    /// The bandwidth available to one core in MB/s; not public for any catalog entry.
    public var bandwidthMBps: Int?
    /// Data AXI ports per core.
    public var dataPorts: Int?
    /// Width of each data port in bits.
    public var dataPortBits: Int?
    /// Width of the instruction port in bits.
    public var instructionPortBits: Int?
    /// Traffic published for real workloads (what a core needs at full speed).
    public var measured: [MeasuredTraffic]

    /// Creates an external memory description; unknown figures are `nil`.
    public init(
        kind: Kind, bandwidthMBps: Int? = nil, dataPorts: Int? = nil, dataPortBits: Int? = nil,
        instructionPortBits: Int? = nil, measured: [MeasuredTraffic] = []
    ) {
        self.kind = kind
        self.bandwidthMBps = bandwidthMBps
        self.dataPorts = dataPorts
        self.dataPortBits = dataPortBits
        self.instructionPortBits = instructionPortBits
        self.measured = measured
    }

    private enum CodingKeys: String, CodingKey {
        case kind, bandwidthMBps = "bandwidth_mbps", dataPorts = "data_ports"
        case dataPortBits = "data_port_bits", instructionPortBits = "instruction_port_bits", measured
    }

    /// Encodes every field, `null` for a figure that is not public.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(bandwidthMBps, forKey: .bandwidthMBps)
        try container.encode(dataPorts, forKey: .dataPorts)
        try container.encode(dataPortBits, forKey: .dataPortBits)
        try container.encode(instructionPortBits, forKey: .instructionPortBits)
        try container.encode(measured, forKey: .measured)
    }
}
