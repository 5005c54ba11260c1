import KilnCore

/// Everything calibration records about one tensor: its range, and a histogram when the
/// method needs one.
struct TensorObserver: Sendable {
    /// The observed range.
    private(set) var minMax = MinMaxObserver()
    /// The value histogram (percentile, entropy, mse).
    private(set) var histogram: Histogram?

    /// An observer; `histogram` for methods that read the distribution.
    init(keepsHistogram: Bool) {
        histogram = keepsHistogram ? Histogram() : nil
    }

    /// Observes one tensor of any floating-point type (others are ignored).
    mutating func add(_ tensor: Tensor) {
        switch tensor.dtype {
        case .float32:
            tensor.withUnsafeBufferPointer(as: Float.self) { add($0) }
        case .float16, .float64:
            let values = tensor.doubleScalars().map(Float.init)
            values.withUnsafeBufferPointer { add($0) }
        default:
            return
        }
    }

    private mutating func add(_ values: UnsafeBufferPointer<Float>) {
        minMax.add(values)
        histogram?.add(values)
    }

    /// Whether a method needs the histogram.
    static func needsHistogram(_ method: CalibrationMethod) -> Bool { method != .minmax }

    /// The fix position `method` chooses (activations, 8-bit signed symmetric), with `mode`
    /// the rounding the tensor will be quantized with (it matters to mse).
    func fixPosition(method: CalibrationMethod, percentile: Double, mode: RoundMode) -> Int {
        guard !minMax.isEmpty else { return FixPositions.allZero }
        guard let histogram, method != .minmax else {
            return FixPositions.nonOverflow(min: minMax.min, max: minMax.max)
        }
        switch method {
        case .minmax:
            return FixPositions.nonOverflow(min: minMax.min, max: minMax.max)
        case .percentile:
            return FixPositions.forThreshold(PercentileRange.threshold(histogram, percentile: percentile))
        case .entropy:
            return FixPositions.forThreshold(EntropyThreshold.threshold(histogram))
        case .mse:
            return MSERange.fixPosition(histogram, observed: minMax, mode: mode)
        }
    }

    /// The float range `method` chooses: symmetric `[-t, t]`, or an asymmetric range that
    /// includes 0.
    func floatRange(method: CalibrationMethod, percentile: Double, symmetric: Bool) -> (lower: Double, upper: Double) {
        let (lower, upper) = minMax.rangeIncludingZero
        let largest = max(-lower, upper)
        guard let histogram, method != .minmax else { return symmetric ? (-largest, largest) : (lower, upper) }
        switch method {
        case .minmax:
            return symmetric ? (-largest, largest) : (lower, upper)
        case .percentile:
            if symmetric {
                let threshold = PercentileRange.threshold(histogram, percentile: percentile)
                return (-threshold, threshold)
            }
            return PercentileRange.range(histogram, percentile: percentile)
        case .entropy:
            let threshold = EntropyThreshold.threshold(histogram)
            return symmetric ? (-threshold, threshold) : (max(lower, -threshold), min(upper, threshold))
        case .mse:
            if symmetric {
                let threshold = MSERange.threshold(histogram, observed: minMax)
                return (-threshold, threshold)
            }
            return MSERange.asymmetricRange(histogram, observed: minMax)
        }
    }
}
