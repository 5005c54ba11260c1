import Foundation

/// A one-line progress bar on stderr — items done of all, rate, time left — redrawn in
/// place. Made only when stderr is a terminal, so logs and pipes stay clean.
///
/// ```swift
/// let bar = ProgressBar(label: "calibrating", unit: "samples")
/// bar?.update(done: 3, total: 200)
/// bar?.finish()
/// ```
final class ProgressBar {
    private let label: String
    private let unit: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastWidth = 0
    private var finished = false

    /// A bar, or `nil` when stderr is not a terminal.
    init?(label: String, unit: String, isTerminal: Bool = isatty(STDERR_FILENO) != 0) {
        guard isTerminal else { return nil }
        self.label = label
        self.unit = unit
    }

    /// Records progress; redraws at most ten times a second, and always at the end.
    func update(done: Int, total: Int) {
        let now = Date()
        guard !finished, done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        draw(Self.line(label: label, unit: unit, done: done, total: total, elapsed: now.timeIntervalSince(start)))
    }

    /// Ends the line.
    func finish() {
        guard !finished else { return }
        finished = true
        if lastWidth > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func draw(_ line: String) {
        let padding = String(repeating: " ", count: max(0, lastWidth - line.count))
        lastWidth = line.count
        FileHandle.standardError.write(Data(("\r" + line + padding).utf8))
    }

    /// `calibrating  37/208 [#####---------------]  52.3 samples/s  ETA 3s`.
    static func line(label: String, unit: String, done: Int, total: Int, elapsed: TimeInterval) -> String {
        let width = 24
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var text = "\(label) \(done)/\(total) [\(bar)]"
        if rate > 0 {
            text += String(format: " %.1f %@/s", rate, unit)
            let remaining = Double(total - done) / rate
            text += done < total ? "  ETA \(duration(remaining))" : "  \(duration(elapsed))"
        }
        return text
    }

    /// `42s`, `3m05s`, `1h02m`.
    static func duration(_ seconds: TimeInterval) -> String {
        let whole = Int(seconds.rounded(.up))
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm", whole / 3600, (whole % 3600) / 60)
    }
}
