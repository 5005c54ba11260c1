import KilnCore
import KilnTargets

extension DPUArchitecture {
    /// The board a `--board` option names (case-insensitive), or `nil` without one.
    ///
    /// - Throws: `badArgument` naming the boards the architecture ships on.
    func board(option name: String?) throws -> BoardConfiguration? {
        guard let name else { return nil }
        if let match = boards.first(where: { $0.name.lowercased() == name.lowercased() }) { return match }
        let known = boards.map(\.name)
        throw KilnError(
            .badArgument,
            "unknown board '\(name)' for \(self.name)"
                + (known.isEmpty ? " (it lists no boards)" : "; it ships on \(known.joined(separator: ", "))"))
    }
}
