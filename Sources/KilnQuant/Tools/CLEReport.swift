import Foundation

/// What ``CrossLayerEqualization`` did: the pairs it equalized, with how uneven their
/// channel ranges were before and after, and the candidates it skipped, with why.
///
/// Its `description` is the text `kiln quantize --cle` prints, one line per pair:
///
///     CLE: 2 pairs equalized in 3 rounds, 1 skipped
///       conv_1 -relu-> conv_2 (16 channels): range ratio 316.2 -> 1.0 | 316.2 -> 1.0
///       conv_2 -> conv_3: skipped (relu6 is not positively homogeneous …)
public struct CLEReport: Codable, Sendable, Equatable, CustomStringConvertible {
    /// A before/after pair of range ratios.
    public struct Ratio: Codable, Sendable, Equatable {
        /// Before equalization.
        public var before: Double
        /// After equalization.
        public var after: Double
    }

    /// One equalized pair.
    public struct Pair: Codable, Sendable, Equatable {
        /// The first layer's node name.
        public var first: String
        /// The second layer's node name.
        public var second: String
        /// The activation between them (`relu`, `leakyRelu`), `nil` for none.
        public var activation: String?
        /// The channels between the layers.
        public var channels: Int
        /// `max r / min r` over the first layer's output channels (`r = max |w|`).
        public var firstRangeRatio: Ratio
        /// `max r / min r` over the second layer's input channels.
        public var secondRangeRatio: Ratio

        enum CodingKeys: String, CodingKey {
            case first, second, activation, channels
            case firstRangeRatio = "first_range_ratio"
            case secondRangeRatio = "second_range_ratio"
        }
    }

    /// A candidate pair left alone.
    public struct Skip: Codable, Sendable, Equatable {
        /// The first layer's node name.
        public var first: String
        /// The second layer's node name.
        public var second: String
        /// Why the pair cannot be equalized without changing the float model.
        public var reason: String
    }

    /// The pairs equalized, in node order of their second layer.
    public var pairs: [Pair]
    /// The candidates skipped.
    public var skipped: [Skip]
    /// Rounds over all pairs until convergence.
    public var rounds: Int

    /// The report as text, one line per pair.
    public var description: String {
        func counted(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }
        var lines = ["CLE: \(counted(pairs.count, "pair")) equalized in \(counted(rounds, "round")), \(skipped.count) skipped"]
        for pair in pairs {
            let arrow = pair.activation.map { "-\($0)->" } ?? "->"
            lines.append(
                String(
                    format: "  %@ %@ %@ (%d channels): range ratio %.1f -> %.1f | %.1f -> %.1f", pair.first, arrow,
                    pair.second, pair.channels, pair.firstRangeRatio.before, pair.firstRangeRatio.after,
                    pair.secondRangeRatio.before, pair.secondRangeRatio.after))
        }
        for skip in skipped { lines.append("  \(skip.first) -> \(skip.second): skipped (\(skip.reason))") }
        return lines.joined(separator: "\n")
    }
}
