import Foundation
import KilnCore
import Testing

@testable import KilnQuant

/// Each calibration method's choice on hand-made distributions.
@Suite struct ObserverTests {
    static func observe(_ batches: [[Float]], histogram: Bool = true) -> TensorObserver {
        var observer = TensorObserver(keepsHistogram: histogram)
        for batch in batches { observer.add(Tensor(shape: [batch.count], scalars: batch)) }
        return observer
    }

    /// 100 000 values uniform in [−1, 1).
    static let uniform: [Float] = {
        var generator = QuantTestData.Generator(seed: 1)
        return (0..<100_000).map { _ in Float(generator.uniform() * 2 - 1) }
    }()

    /// 100 000 standard normals.
    static let gaussian: [Float] = {
        var generator = QuantTestData.Generator(seed: 2)
        return (0..<100_000).map { _ in Float(generator.normal()) }
    }()

    /// The Gaussian and ten outliers at ±50.
    static let gaussianWithOutliers: [Float] =
        gaussian + [Float](repeating: 50, count: 5) + [Float](repeating: -50, count: 5)

    @Test func histogramGrowsByMergingBins() {
        var histogram = Histogram(binsPerSide: 8)
        [Float(0.5), -0.25, 0].withUnsafeBufferPointer { histogram.add($0) }
        #expect(histogram.range == 0.5)
        [Float(1.9)].withUnsafeBufferPointer { histogram.add($0) }
        // 0.5 → 1 → 2: two merges; every count kept.
        #expect(histogram.range == 2)
        #expect(histogram.total == 4)
        #expect(histogram.magnitudes.reduce(0, +) == 4)
        // Bin width 0.25: 0 in bin 0; 0.5 was in the old top bin [0.4375, 0.5] and merged into
        // bin 1; 1.9 in bin 7; −0.25 in negative bin 1.
        #expect(histogram.positive == [1, 1, 0, 0, 0, 0, 0, 1])
        #expect(histogram.negative == [0, 1, 0, 0, 0, 0, 0, 0])
    }

    @Test func nonFiniteValuesAreSkipped() {
        let observer = Self.observe([[1, .nan, -.infinity, -2]])
        #expect(observer.minMax.min == -2 && observer.minMax.max == 1 && observer.minMax.nonFinite == 2)
        #expect(observer.histogram?.total == 2)
    }

    @Test func minmaxTakesTheNonOverflowPosition() {
        // 127.5 · 2^-p ≥ max and −128.5 · 2^-p ≤ min.
        #expect(FixPositions.nonOverflow(min: 0, max: 1) == 6)  // 127/128 < 1
        #expect(FixPositions.nonOverflow(min: -1, max: 0.5) == 7)  // −128/128 = −1
        #expect(FixPositions.nonOverflow(min: 0, max: 0.99) == 7)
        #expect(FixPositions.nonOverflow(min: -3, max: 100) == 0)
        #expect(FixPositions.nonOverflow(min: 0, max: 0) == FixPositions.allZero)
        let uniform = Self.observe([Self.uniform], histogram: false)
        #expect(uniform.fixPosition(method: .minmax, percentile: 99.99, mode: .halfUp) == 6)
    }

    /// On uniform data, mse ("diffs") accepts a little clipping at the top for half the step.
    @Test func mseOnUniformPrefersTheFinerPosition() {
        let observer = Self.observe([Self.uniform])
        #expect(observer.fixPosition(method: .mse, percentile: 99.99, mode: .halfUp) == 7)
        let values = Self.uniform.prefix(5000).map(Double.init)
        #expect(MSERange.fixPosition(values: values, mode: .halfAwayFromZero) == 7)
    }

    /// On a Gaussian, minmax covers the largest sample (|x| ≈ 4.4: position 4, range 7.97);
    /// mse gives up the rare tail for a step half as large (position 5); entropy clips too.
    @Test func gaussianClipsTheTailExceptMinmax() throws {
        let observer = Self.observe([Self.gaussian])
        #expect(observer.fixPosition(method: .minmax, percentile: 99.99, mode: .halfUp) == 4)
        #expect(observer.fixPosition(method: .mse, percentile: 99.99, mode: .halfUp) == 5)
        let histogram = try #require(observer.histogram)
        let entropy = EntropyThreshold.threshold(histogram)
        #expect(entropy > 2.5 && entropy < observer.minMax.max, "entropy threshold \(entropy)")
        #expect(observer.fixPosition(method: .percentile, percentile: 99.9, mode: .halfUp) == 5)  // ≈ 3.29
    }

    /// Outliers at ±50: minmax and mse keep them (clipping ten values by ~46 costs more
    /// squared error than the finer step saves on the rest); percentile and entropy clip them.
    @Test func outliersAreClippedByPercentileAndEntropy() {
        // Two batches: the range grows from the first batch's to the outliers' (bins merge).
        let data = Self.gaussianWithOutliers
        let observer = Self.observe([Array(data.prefix(50_000)), Array(data.dropFirst(50_000))])
        guard let histogram = observer.histogram else { return }
        #expect(observer.fixPosition(method: .minmax, percentile: 99.99, mode: .halfUp) == 1)  // 127.5/50 = 2.55

        let percentile = PercentileRange.threshold(histogram, percentile: 99.9)
        #expect(
            percentile > 3.1 && percentile < 3.6,
            "the 99.9th percentile here is |N(0,1)|'s 99.91st, ≈ 3.32; got \(percentile)")
        #expect(observer.fixPosition(method: .percentile, percentile: 99.9, mode: .halfUp) == 5)

        let entropy = EntropyThreshold.threshold(histogram)
        #expect(entropy > 2 && entropy < 10, "entropy threshold \(entropy)")
        #expect((3...5).contains(observer.fixPosition(method: .entropy, percentile: 99.99, mode: .halfUp)))

        #expect(MSERange.threshold(histogram, observed: observer.minMax) > 40)
        #expect(observer.fixPosition(method: .mse, percentile: 99.99, mode: .halfUp) == 1)
    }

    @Test func floatRangesFollowTheMethod() {
        let observer = Self.observe([[-1, -0.5, 0, 2, 3]])
        let symmetric = observer.floatRange(method: .minmax, percentile: 100, symmetric: true)
        #expect(symmetric.lower == -3 && symmetric.upper == 3)
        let asymmetric = observer.floatRange(method: .minmax, percentile: 100, symmetric: false)
        #expect(asymmetric.lower == -1 && asymmetric.upper == 3)
        let positive = Self.observe([[1, 2, 3]]).floatRange(method: .minmax, percentile: 100, symmetric: false)
        #expect(positive.lower == 0 && positive.upper == 3)  // the range always holds 0
        // Asymmetric percentile on the outlier data clips both tails.
        let outliers = Self.observe([Self.gaussianWithOutliers]).floatRange(
            method: .percentile, percentile: 99.99, symmetric: false)
        #expect(outliers.lower < -3 && outliers.lower > -4.5 && outliers.upper > 3 && outliers.upper < 4.5)
    }
}
