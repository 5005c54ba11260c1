import Foundation
import KilnCore

/// The MSE method: the range minimizing the expected squared quantization error (rounding
/// plus clipping) over the observed distribution.
///
/// For power-of-two scales this is Vitis AI's "diffs" (`get_pos_min_mse`): the five
/// positions from the non-overflow one up, the one of least error winning (the first among
/// equals). For float scales the clipping threshold is searched over the histogram, first on
/// a coarse grid of the observed range and then around the best coarse candidate.
enum MSERange {
    /// Candidate positions after the non-overflow one (Vitis AI's `pos_range`).
    static let positionCandidates = 5

    /// The fix position of least expected error over `histogram`, rounding with `mode`.
    static func fixPosition(_ histogram: Histogram, observed: MinMaxObserver, mode: RoundMode) -> Int {
        guard !observed.isEmpty, histogram.total > 0 else { return FixPositions.allZero }
        let start = FixPositions.nonOverflow(min: observed.min, max: observed.max)
        return bestPosition(from: start) { position in
            histogram.expectedSquaredError { FixPositions.fakeQuantize($0, position: position, mode: mode) }
        }
    }

    /// The fix position of least squared error over exact `values` (weights), rounding with `mode`.
    static func fixPosition(values: [Double], mode: RoundMode) -> Int {
        var observed = MinMaxObserver()
        observed.add(values)
        guard !observed.isEmpty, observed.min != 0 || observed.max != 0 else { return FixPositions.allZero }
        let start = FixPositions.nonOverflow(min: observed.min, max: observed.max)
        return bestPosition(from: start) { position in
            var sum = 0.0
            for value in values where value.isFinite {
                let difference = value - FixPositions.fakeQuantize(value, position: position, mode: mode)
                sum += difference * difference
            }
            return sum
        }
    }

    private static func bestPosition(from start: Int, error: (Int) -> Double) -> Int {
        var best = (position: start, error: Double.infinity)
        for offset in 0..<positionCandidates {
            let position = FixPositions.clamp(start + offset)
            let candidate = error(position)
            if candidate < best.error { best = (position, candidate) }
        }
        return best.position
    }

    /// The symmetric threshold `t` of least expected error when `[-t, t]` maps to
    /// `[-127, 127]` (scale `t / 127`, half-to-even rounding).
    static func threshold(_ histogram: Histogram, observed: MinMaxObserver) -> Double {
        let largest = max(Swift.abs(observed.min), Swift.abs(observed.max))
        guard !observed.isEmpty, largest > 0, histogram.total > 0 else { return 0 }
        return search(upTo: largest) { t in
            let scale = t / 127
            return histogram.expectedSquaredError { x in
                min(max((x / scale).rounded(.toNearestOrEven), -128), 127) * scale
            }
        }
    }

    /// The asymmetric range of least expected error for uint8 (`[lo, hi]` → `[0, 255]`):
    /// the observed range scaled by a common factor.
    static func asymmetricRange(_ histogram: Histogram, observed: MinMaxObserver) -> (lower: Double, upper: Double) {
        let (lower, upper) = observed.rangeIncludingZero
        guard upper > lower, histogram.total > 0 else { return (lower, upper) }
        let factor = search(upTo: 1) { factor in
            let low = lower * factor
            let scale = (upper - lower) * factor / 255
            let zeroPoint = min(max((-low / scale).rounded(.toNearestOrEven), 0), 255)
            return histogram.expectedSquaredError { x in
                (min(max((x / scale).rounded(.toNearestOrEven) + zeroPoint, 0), 255) - zeroPoint) * scale
            }
        }
        return (lower * factor, upper * factor)
    }

    /// The `x ∈ (0, limit]` of least `error(x)`: 64 candidates `limit · k / 64`, then 32
    /// finer ones around the best.
    private static func search(upTo limit: Double, error: (Double) -> Double) -> Double {
        var best = (x: limit, error: error(limit))
        for step in 1..<64 {
            let x = limit * Double(step) / 64
            let candidate = error(x)
            if candidate < best.error { best = (x, candidate) }
        }
        let center = best.x
        for step in -16...16 where step != 0 {
            let x = center + limit * Double(step) / (64 * 16)
            guard x > 0, x <= limit else { continue }
            let candidate = error(x)
            if candidate < best.error { best = (x, candidate) }
        }
        return best.x
    }
}
