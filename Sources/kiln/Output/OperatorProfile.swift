import Foundation
import KilnRuntime

/// `kiln bench --ops`: where a run's time goes, by operator, from traced runs.
enum OperatorProfile {
    /// One operator's share of a run.
    struct Row: Encodable, Equatable {
        /// The op (`conv`, `add`, `dpu_subgraph …`).
        var op: String
        /// Calls per run.
        var calls: Int
        /// Mean time per run, milliseconds.
        var ms: Double
        /// Share of the traced time, percent.
        var percent: Double
    }

    /// Rows by descending time from `trace`, which holds `runs` runs: one per op, or with
    /// `byNode` one per node (op, name and shapes).
    static func rows(trace: TraceRecorder, runs: Int, byNode: Bool = false) -> [Row] {
        var totals: [String: (calls: Int, nanoseconds: UInt64)] = [:]
        for slice in trace.slices {
            let op = byNode
                ? "\(slice.op) \(slice.name): \(slice.arguments["shapes"] ?? "")"
                : slice.op.hasPrefix("dpu_subgraph") ? "dpu_subgraph" : slice.op
            let duration = slice.endNanoseconds &- slice.startNanoseconds
            totals[op, default: (0, 0)].calls += 1
            totals[op, default: (0, 0)].nanoseconds += duration
        }
        let all = Double(totals.values.reduce(0) { $0 + $1.nanoseconds })
        let perRun = Double(max(runs, 1))
        return totals.map { op, total in
            Row(
                op: op, calls: total.calls / max(runs, 1), ms: Double(total.nanoseconds) / 1e6 / perRun,
                percent: all > 0 ? 100 * Double(total.nanoseconds) / all : 0)
        }.sorted { ($0.ms, $1.op) > ($1.ms, $0.op) }
    }

    /// The text table.
    static func table(_ rows: [Row]) -> [String] {
        let total = rows.reduce(0) { $0 + $1.ms }
        var lines = ["calls    ms/run   share  op"]
        for row in rows {
            lines.append(String(format: "%5d %9.4f %6.1f%%  ", row.calls, row.ms, row.percent) + row.op)
        }
        lines.append(String(format: "      %9.4f          in kernels per run", total))
        return lines
    }
}
