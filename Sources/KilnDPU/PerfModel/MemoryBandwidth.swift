import KilnTargets

/// The DDR bandwidth one DPU core sustains on a board, and where the figure comes from.
///
/// No source publishes what the memory system can deliver (the catalog keeps
/// `bandwidth_mbps` as "not public"). What is published is traffic measured on real
/// boards; a bandwidth-bound layer shows the ceiling. So the model takes, in order:
/// 1. a figure measured on the board itself (``boardMeasurements``);
/// 2. the highest peak traffic published for any configuration of the DPU family — the
///    cores of one family share the SoC's memory path and AXI ports, so the busiest one
///    shows what it sustains (DPUCZDX8G: PG338's B4096 YOLOv3-VOC, 6453 MB/s; UG1414's
///    vaitrace shows weight-bound ResNet-50 layers at 6019–6423 MB/s, the same ceiling);
/// 3. otherwise the data ports' peak (ports × width × clock), an upper bound.
///
/// Either published figure is capped by the ports' peak at the board's clock.
public struct MemoryBandwidth: Codable, Sendable, Hashable {
    /// Bytes per second.
    public var bytesPerSecond: Double
    /// Where the figure comes from.
    public var source: String

    private enum CodingKeys: String, CodingKey { case bytesPerSecond = "bytes_per_second", source }

    /// Megabytes (10⁶ bytes) per second.
    public var megabytesPerSecond: Double { bytesPerSecond / 1e6 }

    /// Traffic measured on a board, by board name: the highest published.
    ///
    /// KV260: the Kria apps' DDR read peak of the DPU design (KRIA-SC in
    /// `reference/dpu-architecture.md` §1.2: read peak 6200 MB/s, write 1300 MB/s).
    public static let boardMeasurements: [String: MemoryBandwidth] = [
        "KV260": MemoryBandwidth(
            bytesPerSecond: 6200e6, source: "KV260 Smart Camera app, DDR read peak 6200 MB/s (Kria app docs)"),
    ]

    /// The bandwidth for `architecture` on `board` at `clockMHz`, or `nil` when nothing is
    /// published and the ports are not known either.
    public static func sustained(
        architecture: DPUArchitecture, board: BoardConfiguration?, clockMHz: Int
    ) -> MemoryBandwidth? {
        let memory = architecture.externalMemory
        var portPeak: Double?
        if let ports = memory.dataPorts, let bits = memory.dataPortBits {
            portPeak = Double(ports * bits / 8) * Double(clockMHz) * 1e6
        }
        var published = board.flatMap { boardMeasurements[$0.name] }
        if published == nil, let best = familyPeak(architecture.family) {
            let figure = best.figure
            published = MemoryBandwidth(
                bytesPerSecond: Double(figure.peakMBps) * 1e6,
                source: "\(best.architecture) \(figure.workload) peak traffic \(figure.peakMBps) MB/s (PG338 I/O bandwidth)")
        }
        if var published {
            if let portPeak, portPeak < published.bytesPerSecond {
                published.bytesPerSecond = portPeak
                published.source += ", capped by the data ports at \(clockMHz) MHz"
            }
            return published
        }
        let ports = "\(memory.dataPorts ?? 0) × \(memory.dataPortBits ?? 0) bit at \(clockMHz) MHz"
        return portPeak.map { MemoryBandwidth(bytesPerSecond: $0, source: "data ports' peak (\(ports)), an upper bound") }
    }

    /// The highest peak traffic (reads, or reads and writes) published for a configuration
    /// of `family`.
    static func familyPeak(_ family: DPUFamily) -> (architecture: String, figure: MeasuredTraffic)? {
        var best: (architecture: String, figure: MeasuredTraffic)?
        for architecture in Catalog.architectures where architecture.family == family {
            for figure in architecture.externalMemory.measured where figure.direction != .write {
                if figure.peakMBps > best?.figure.peakMBps ?? 0 { best = (architecture.name, figure) }
            }
        }
        return best
    }
}
