/// The configuration fields of a DPUCZDX8G ISA1 feature code (a fingerprint's low 48 bits).
///
/// The layout is the one `create_target_DPUCZDX8G_ISA1.cpp` (Vitis AI `target_factory`)
/// decodes when it synthesises a target from an unregistered fingerprint:
///
/// | bits | field |
/// | --- | --- |
/// | 3:0 | ARCH: index into the pixel / channel parallelism tables |
/// | 11:8 | ALU_PP: pixel parallelism of the ALU and eltwise engines |
/// | 23:16 | not decoded by the ISA1 code (0x01 in every shipped target) |
/// | 25:24 | IMG_BG: image bank groups |
/// | 26 | LD_AUGM: channel augmentation |
/// | 27 | LD_MEAN (commented out in the code) |
/// | 28 | CV_LKRL: LeakyReLU in the conv engine |
/// | 29 | DW_LKRL: LeakyReLU in the ALU (depthwise) engine |
/// | 30 | SV_AM: argmax in the save engine |
/// | 33:32 | CV_WP: log2 of the conv weight parallelism |
/// | 35:34 | ALU_WP: log2 of the ALU weight parallelism |
///
/// Bits outside these fields are kept in ``rawValue`` and never reinterpreted.
public struct DPUCZDX8GFeatureCode: Sendable, Hashable {
    /// The 48-bit feature code.
    public let rawValue: UInt64

    /// Wraps a feature code.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// The ARCH index (bits 3:0).
    public var archIndex: Int { field(0, 4) }
    /// Pixel parallelism of the ALU and eltwise engines (bits 11:8).
    public var aluPixelParallelism: Int { field(8, 4) }
    /// Number of image bank groups (bits 25:24; 2 means VB0 and VB1).
    public var imageBankGroups: Int { field(24, 2) }
    /// Channel augmentation: the first layer loads `2 × ICP` channels (bit 26).
    public var hasChannelAugmentation: Bool { field(26, 1) == 1 }
    /// LeakyReLU fuses into the conv engine (bit 28).
    public var hasConvLeakyReLU: Bool { field(28, 1) == 1 }
    /// LeakyReLU in the ALU engine: depthwise conv and pooling (bit 29).
    public var hasALULeakyReLU: Bool { field(29, 1) == 1 }
    /// Argmax in the save engine (bit 30; set by Vitis AI 3.x targets, clear in 2.5).
    public var hasSaveArgmax: Bool { field(30, 1) == 1 }
    /// log2 of the conv weight parallelism (bits 33:32).
    public var convWeightParallelLog2: Int { field(32, 2) }
    /// log2 of the ALU weight parallelism (bits 35:34).
    public var aluWeightParallelLog2: Int { field(34, 2) }

    /// The (pixel, channel) parallelism of the ARCH index, or `nil` past the table.
    ///
    /// Indices 0–7 are B512 … B4096 (PG338); 8–11 are small arches that appear only in
    /// the target-factory code (B128, B144, B256, B64), which the catalog does not list.
    public var parallelism: (pixel: Int, channel: Int)? {
        let table = [(4, 8), (4, 10), (8, 8), (4, 12), (8, 10), (8, 12), (8, 14), (8, 16),
                     (4, 4), (2, 6), (2, 8), (2, 4)]
        guard archIndex < table.count else { return nil }
        return (table[archIndex].0, table[archIndex].1)
    }

    /// The configuration name, `B4096` (peak ops per cycle = PP × ICP × OCP × 2, ICP = OCP).
    public var archName: String? {
        parallelism.map { "B\($0.pixel * $0.channel * $0.channel * 2)" }
    }

    /// The fields that differ between two feature codes, by name, for error messages.
    public func differences(from other: DPUCZDX8GFeatureCode) -> [String] {
        var names: [String] = []
        if archIndex != other.archIndex { names.append("arch") }
        if aluPixelParallelism != other.aluPixelParallelism { names.append("ALU pixel parallelism") }
        if imageBankGroups != other.imageBankGroups { names.append("image bank groups") }
        if hasChannelAugmentation != other.hasChannelAugmentation { names.append("channel augmentation") }
        if hasConvLeakyReLU != other.hasConvLeakyReLU { names.append("conv LeakyReLU") }
        if hasALULeakyReLU != other.hasALULeakyReLU { names.append("ALU LeakyReLU") }
        if hasSaveArgmax != other.hasSaveArgmax { names.append("save-engine argmax") }
        if convWeightParallelLog2 != other.convWeightParallelLog2 { names.append("conv weight parallelism") }
        if aluWeightParallelLog2 != other.aluWeightParallelLog2 { names.append("ALU weight parallelism") }
        if names.isEmpty && rawValue != other.rawValue { names.append("undecoded bits") }
        return names
    }

    private func field(_ shift: Int, _ width: Int) -> Int {
        Int((rawValue >> UInt64(shift)) & ((1 << UInt64(width)) - 1))
    }
}
