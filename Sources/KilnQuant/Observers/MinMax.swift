import Foundation
import KilnCore

/// The smallest and largest finite value seen across samples.
struct MinMaxObserver: Sendable, Equatable {
    /// The smallest value (`+∞` before any).
    private(set) var min = Double.infinity
    /// The largest value (`-∞` before any).
    private(set) var max = -Double.infinity
    /// Non-finite values skipped.
    private(set) var nonFinite = 0

    /// Whether any finite value was seen.
    var isEmpty: Bool { min > max }

    /// Observes `values`.
    mutating func add(_ values: UnsafeBufferPointer<Float>) {
        var low = Float.infinity
        var high = -Float.infinity
        for value in values {
            guard value.isFinite else {
                nonFinite += 1
                continue
            }
            low = Swift.min(low, value)
            high = Swift.max(high, value)
        }
        if low <= high {
            min = Swift.min(min, Double(low))
            max = Swift.max(max, Double(high))
        }
    }

    /// Observes doubles (weights).
    mutating func add(_ values: [Double]) {
        for value in values where value.isFinite {
            min = Swift.min(min, value)
            max = Swift.max(max, value)
        }
    }

    /// `[min, max]` widened to include 0 (`[0, 0]` before any value), as quantization ranges are.
    var rangeIncludingZero: (lower: Double, upper: Double) {
        isEmpty ? (0, 0) : (Swift.min(min, 0), Swift.max(max, 0))
    }
}

/// Power-of-two fix positions for 8-bit signed symmetric quantization: a fix position `p`
/// represents `q · 2^-p` for `q ∈ [-128, 127]`.
enum FixPositions {
    /// Positions are kept in `-32...32`: beyond, a tensor is all but zero or all but
    /// saturated, and shifts would leave the DPU's range anyway.
    static let limits = -32...32
    /// The position of a tensor that is all zeros (any position represents it exactly;
    /// 7 covers [-1, 1) like a typical weight).
    static let allZero = 7

    /// The non-overflow position of Vitis AI: the largest `p` with `max ≤ 127.5 · 2^-p` and
    /// `min ≥ -128.5 · 2^-p`, so that nothing rounds outside the int8 range (with the 0.5
    /// guard of `get_pos_overflow`).
    static func nonOverflow(min: Double, max: Double) -> Int {
        let scale = Swift.max(Swift.min(min, 0) / -128.5, Swift.max(max, 0) / 127.5)
        guard scale > 0, scale.isFinite else { return allZero }
        return clamp(Int(floor(log2(1 / scale))))
    }

    /// The non-overflow position of a symmetric clipping threshold `[-t, t]`.
    static func forThreshold(_ threshold: Double) -> Int {
        nonOverflow(min: -threshold, max: threshold)
    }

    /// `position` clamped to ``limits``.
    static func clamp(_ position: Int) -> Int {
        Swift.min(Swift.max(position, limits.lowerBound), limits.upperBound)
    }

    /// `x` quantized at `position` with `mode` and int8 saturation, back to a real value.
    static func fakeQuantize(_ x: Double, position: Int, mode: RoundMode) -> Double {
        let scaled = x * exp2(Double(position))
        let rounded = Swift.min(Swift.max(mode.round(scaled), -128), 127)
        return rounded * exp2(Double(-position))
    }
}
