/// The percentile method: clip at a percentile of the observed distribution, so that a few
/// outliers do not stretch the range.
enum PercentileRange {
    /// The `percentile`-th percentile of |x| (e.g. 99.99), interpolated linearly inside its
    /// bin; 0 for an empty histogram.
    static func threshold(_ histogram: Histogram, percentile: Double) -> Double {
        let magnitudes = histogram.magnitudes
        let width = histogram.binWidth
        return quantile(
            bins: magnitudes.indices.map { (lower: Double($0) * width, count: magnitudes[$0]) }, width: width,
            total: histogram.total, fraction: percentile / 100)
    }

    /// The signed range `[q(1 − p), q(p)]` (for asymmetric quantization), widened to include 0.
    static func range(_ histogram: Histogram, percentile: Double) -> (lower: Double, upper: Double) {
        var bins: [(lower: Double, count: Double)] = []
        histogram.forEachBin { lower, _, count in bins.append((lower, count)) }
        let width = histogram.binWidth
        let low = quantile(bins: bins, width: width, total: histogram.total, fraction: 1 - percentile / 100)
        let high = quantile(bins: bins, width: width, total: histogram.total, fraction: percentile / 100)
        return (min(low, 0), max(high, 0))
    }

    /// The value below which `fraction` of the counts lie, for bins in increasing order.
    private static func quantile(bins: [(lower: Double, count: Double)], width: Double, total: Double, fraction: Double)
        -> Double
    {
        guard total > 0, let last = bins.last(where: { $0.count > 0 }) else { return 0 }
        let target = min(max(fraction, 0), 1) * total
        var cumulative = 0.0
        for bin in bins where bin.count > 0 {
            if cumulative + bin.count >= target {
                return bin.lower + width * max(0, target - cumulative) / bin.count
            }
            cumulative += bin.count
        }
        return last.lower + width
    }
}
