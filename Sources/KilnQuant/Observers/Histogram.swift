/// A histogram of a tensor's values over `[-range, range]` that accumulates across samples.
///
/// Positive and negative values are counted separately by magnitude, `binsPerSide` bins per
/// side of width `range / binsPerSide`, so the |x| histogram the entropy and percentile
/// methods read is their sum. The range is set by the first non-zero value; when a later
/// value exceeds it, the range doubles by merging neighbouring bins pairwise until the value
/// fits — exact (no count is split or interpolated), and the bin count stays fixed.
/// Non-finite values are not counted.
struct Histogram: Sendable, Equatable {
    /// The default resolution: TensorRT's 2048 bins of |x|.
    static let defaultBinsPerSide = 2048

    /// Bins on each side of zero (even, so that pairs merge).
    let binsPerSide: Int
    /// Counts of `x ≥ 0` by `⌊x / binWidth⌋`.
    private(set) var positive: [Double]
    /// Counts of `x < 0` by `⌊-x / binWidth⌋`.
    private(set) var negative: [Double]
    /// The covered magnitude; 0 until a non-zero value is seen.
    private(set) var range: Double = 0
    /// Values counted.
    private(set) var total: Double = 0

    /// An empty histogram.
    init(binsPerSide: Int = defaultBinsPerSide) {
        precondition(binsPerSide >= 2 && binsPerSide % 2 == 0, "Histogram: binsPerSide must be even and ≥ 2")
        self.binsPerSide = binsPerSide
        positive = [Double](repeating: 0, count: binsPerSide)
        negative = [Double](repeating: 0, count: binsPerSide)
    }

    /// The width of one bin (0 while the range is unset).
    var binWidth: Double { range / Double(binsPerSide) }

    /// The |x| histogram: `positive[i] + negative[i]`.
    var magnitudes: [Double] { zip(positive, negative).map { $0 + $1 } }

    /// Counts `values`.
    mutating func add(_ values: UnsafeBufferPointer<Float>) {
        var largest: Float = 0
        for value in values where value.isFinite { largest = max(largest, Swift.abs(value)) }
        grow(toCover: Double(largest))
        let scale = range > 0 ? Double(binsPerSide) / range : 0
        let last = binsPerSide - 1
        for value in values where value.isFinite {
            let magnitude = Double(Swift.abs(value))
            let bin = min(Int(magnitude * scale), last)
            if value < 0 { negative[bin] += 1 } else { positive[bin] += 1 }
            total += 1
        }
    }

    /// Adds another histogram's counts (of the same bin count).
    mutating func merge(_ other: Histogram) {
        precondition(other.binsPerSide == binsPerSide, "Histogram.merge: bin counts differ")
        var other = other
        grow(toCover: other.range)
        other.grow(toCover: range)
        for index in 0..<binsPerSide {
            positive[index] += other.positive[index]
            negative[index] += other.negative[index]
        }
        total += other.total
    }

    /// Widens the range (doubling, bins merged pairwise) until it covers `magnitude`.
    mutating func grow(toCover magnitude: Double) {
        guard magnitude > 0 else { return }
        if range == 0 {
            range = magnitude
            return
        }
        while magnitude > range {
            Self.mergePairs(&positive)
            Self.mergePairs(&negative)
            range *= 2
        }
    }

    private static func mergePairs(_ bins: inout [Double]) {
        let half = bins.count / 2
        for index in 0..<half { bins[index] = bins[2 * index] + bins[2 * index + 1] }
        for index in half..<bins.count { bins[index] = 0 }
    }

    /// Calls `body(lower, upper, count)` for every non-empty bin, from the most negative
    /// values to the most positive, with the bin's signed value interval.
    func forEachBin(_ body: (_ lower: Double, _ upper: Double, _ count: Double) -> Void) {
        let width = binWidth
        for index in stride(from: binsPerSide - 1, through: 0, by: -1) where negative[index] > 0 {
            body(-Double(index + 1) * width, -Double(index) * width, negative[index])
        }
        for index in 0..<binsPerSide where positive[index] > 0 {
            body(Double(index) * width, Double(index + 1) * width, positive[index])
        }
    }

    /// The expected squared error of `quantize` over the counted values, each bin's values
    /// taken as spread uniformly over the bin (sampled at `samplesPerBin` midpoints).
    func expectedSquaredError(samplesPerBin: Int = 4, _ quantize: (Double) -> Double) -> Double {
        guard total > 0 else { return 0 }
        var sum = 0.0
        let step = 1 / Double(samplesPerBin)
        forEachBin { lower, upper, count in
            var binError = 0.0
            for sample in 0..<samplesPerBin {
                let x = lower + (Double(sample) + 0.5) * step * (upper - lower)
                let difference = x - quantize(x)
                binError += difference * difference
            }
            sum += binError * step * count
        }
        return sum / total
    }
}
