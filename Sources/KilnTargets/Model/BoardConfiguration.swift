/// How a board instantiates an architecture: core count and clock.
///
/// Figures a source does not give are `nil` (shown as "not public").
public struct BoardConfiguration: Codable, Sendable, Hashable {
    /// The board, e.g. `ZCU102`.
    public var name: String
    /// The legacy target name (TVM + Vitis AI flow) that selects this board, if any.
    public var alias: String?
    /// DPU cores (DPUCADF8H: kernels) on the board.
    public var cores: Int?
    /// Compute engines per core (DPUCAHX8H only: a core holds several engines).
    public var enginesPerCore: [Int]?
    /// The DPU clock in MHz (DPUCZDX8G: `m_axi_dpu_aclk`; the DSPs run at twice that).
    public var clockMHz: Int?
    /// The peak the vendor publishes for the whole board, in GOPS (a MAC counts 2 ops).
    public var publishedPeakGOPS: Double?
    /// Anything a user should know: software version, shell, overlay.
    public var note: String?

    /// Creates a board configuration.
    public init(
        name: String, alias: String? = nil, cores: Int?, enginesPerCore: [Int]? = nil,
        clockMHz: Int?, publishedPeakGOPS: Double? = nil, note: String? = nil
    ) {
        self.name = name
        self.alias = alias
        self.cores = cores
        self.enginesPerCore = enginesPerCore
        self.clockMHz = clockMHz
        self.publishedPeakGOPS = publishedPeakGOPS
        self.note = note
    }

    private enum CodingKeys: String, CodingKey {
        case name, alias, cores, enginesPerCore = "engines_per_core", clockMHz = "clock_mhz"
        case publishedPeakGOPS = "published_peak_gops", note
    }

    /// Encodes every field, `null` for a figure that is not public.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(alias, forKey: .alias)
        try container.encode(cores, forKey: .cores)
        try container.encode(enginesPerCore, forKey: .enginesPerCore)
        try container.encode(clockMHz, forKey: .clockMHz)
        try container.encode(publishedPeakGOPS, forKey: .publishedPeakGOPS)
        try container.encode(note, forKey: .note)
    }
}
