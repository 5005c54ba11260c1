import Foundation

extension PerformancePrediction {
    /// The prediction as text: the device line, one vaitrace-style row per subgraph
    /// (`SubGraph | WL(GOP) | RT(ms) | FPS | Perf(GOP/s) | LdWB(MB) | LdFM(MB) | StFM(MB) |
    /// AvgBw(MB/s)`, MB = 10⁶ bytes), where each subgraph's time goes, and the totals.
    public var text: String {
        var lines: [String] = []
        let place = board.map { " on \($0)" } ?? ""
        let bandwidthText = bandwidth.map {
            "DDR \(Self.number($0.megabytesPerSecond, 0)) MB/s per core (\($0.source))"
        } ?? "DDR bandwidth not modelled"
        lines.append("DPU performance model: \(target)\(place), \(cores) core\(cores == 1 ? "" : "s") @ \(clockMHz) MHz, \(bandwidthText)")
        let header = ["SubGraph", "WL(GOP)", "RT(ms)", "FPS", "Perf(GOP/s)", "LdWB(MB)", "LdFM(MB)", "StFM(MB)", "AvgBw(MB/s)"]
        let rows = subgraphs.map { s in
            [
                s.name, Self.number(s.gop, 3), Self.number(s.latencyMs, 3), Self.number(s.fps, 1),
                Self.number(s.gopsPerSecond, 1), Self.megabytes(s.weightLoadBytes), Self.megabytes(s.featureLoadBytes),
                Self.megabytes(s.storeBytes), Self.number(s.bandwidthMBps, 0),
            ]
        }
        lines += Self.table([header] + rows)
        for s in subgraphs {
            let engines = s.engineMs.sorted { $0.value > $1.value }.map { "\($0.key) \(Self.number($0.value, 3))" }
                + ["call \(Self.number(s.latencyMs - s.engineMs.values.reduce(0, +), 3))"]
            lines.append(
                "\(s.name): \(s.operations) operations; engines (ms) \(engines.joined(separator: ", ")); "
                    + "compute \(Self.number(s.computeMs, 3)) ms, DDR \(Self.number(s.memoryMs, 3)) ms before overlap")
        }
        lines.append(
            "predicted: \(Self.number(latencyMs, 3)) ms per frame (DPU \(Self.number(dpuMs, 3)) ms + host "
                + "\(Self.number(hostMs, 3)) ms), \(Self.number(fps, 1)) FPS single thread, "
                + "\(Self.number(fpsMT, 1)) FPS with \(lanes) lane\(lanes == 1 ? "" : "s") busy")
        for assumption in assumptions { lines.append("note: \(assumption)") }
        return lines.joined(separator: "\n")
    }

    /// Left-aligned first column, right-aligned numbers.
    static func table(_ rows: [[String]]) -> [String] {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { cells in
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + pad : pad + cell
            }
            .joined(separator: "  ")
        }
    }

    static func number(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.3f", Double(bytes) / 1e6) }
}
