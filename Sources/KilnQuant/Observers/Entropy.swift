import Foundation

/// The entropy method (TensorRT's calibration): the clipping threshold of |x| whose int8
/// quantization loses the least information, measured as the KL divergence between the
/// |x| histogram clipped at the threshold and its quantized version.
///
/// As pytorch-quantization's `_compute_amax_entropy` does: the zero bin first takes the
/// count of bin 1 (so that the spike of exact zeros a ReLU leaves does not decide the
/// threshold); then for every candidate `i` from `levels` up to the last non-empty bin
/// (TensorRT: 2048 bins, 128 levels) the reference `P` is bins `0..<i` with all counts beyond
/// added to bin `i − 1`, and `Q` groups those `i` bins into `levels` groups (bin `j` in group
/// `⌊j · levels / i⌋`), spreading each group's count evenly over its non-empty bins (empty
/// bins stay empty). The threshold is the upper edge of bin `i − 1` for the `i` of least
/// `KL(P‖Q)`, the last one among equals.
enum EntropyThreshold {
    /// Quantized levels of the positive side of int8.
    static let defaultLevels = 128

    /// The threshold for `histogram`'s |x|; its largest magnitude when it has fewer bins
    /// with data than `levels`.
    static func threshold(_ histogram: Histogram, levels: Int = defaultLevels) -> Double {
        var bins = histogram.magnitudes
        if bins.count > 1 { bins[0] = bins[1] }
        let width = histogram.binWidth
        guard let lastFilled = bins.lastIndex(where: { $0 > 0 }) else { return 0 }
        guard bins.count >= levels, lastFilled + 1 > levels else { return Double(lastFilled + 1) * width }
        // Counts beyond i, for every i: suffix[i] = Σ bins[i...].
        var suffix = [Double](repeating: 0, count: bins.count + 1)
        for index in stride(from: bins.count - 1, through: 0, by: -1) {
            suffix[index] = suffix[index + 1] + bins[index]
        }
        var best = (divergence: Double.infinity, bins: bins.count)
        var reference = [Double](repeating: 0, count: bins.count)
        var expanded = [Double](repeating: 0, count: bins.count)
        // Beyond the last non-empty bin every candidate is the same distribution.
        for candidate in levels...(lastFilled + 1) {
            let divergence = klDivergence(bins, candidate, levels, outliers: suffix[candidate], &reference, &expanded)
            if divergence <= best.divergence { best = (divergence, candidate) }
        }
        return Double(best.bins) * width
    }

    /// `KL(P‖Q)` for the first `count` bins (see the type's documentation).
    private static func klDivergence(
        _ bins: [Double], _ count: Int, _ levels: Int, outliers: Double,
        _ reference: inout [Double], _ expanded: inout [Double]
    ) -> Double {
        for index in 0..<count { reference[index] = bins[index] }
        reference[count - 1] += outliers
        for level in 0..<levels {
            // Bins j with ⌊j · levels / count⌋ == level.
            let start = (level * count + levels - 1) / levels
            let stop = ((level + 1) * count + levels - 1) / levels
            var sum = 0.0
            var nonEmpty = 0.0
            for index in start..<stop where bins[index] > 0 {
                sum += bins[index]
                nonEmpty += 1
            }
            let share = nonEmpty > 0 ? sum / nonEmpty : 0
            for index in start..<stop { expanded[index] = bins[index] > 0 ? share : 0 }
        }
        var referenceTotal = 0.0
        var expandedTotal = 0.0
        for index in 0..<count {
            referenceTotal += reference[index]
            expandedTotal += expanded[index]
        }
        guard referenceTotal > 0, expandedTotal > 0 else { return .infinity }
        var divergence = 0.0
        for index in 0..<count where reference[index] > 0 {
            let p = reference[index] / referenceTotal
            let q = expanded[index] / expandedTotal
            guard q > 0 else { return .infinity }
            divergence += p * log(p / q)
        }
        return divergence
    }
}
