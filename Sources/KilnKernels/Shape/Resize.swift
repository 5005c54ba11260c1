import Foundation
import KilnCore

/// Resize (and Upsample): separable interpolation, one axis at a time, as the ONNX
/// reference defines it. Each resized axis gets an ``ResizeAxisPlan``: for every output
/// position, the input positions it reads and their weights. Nearest mode reads one
/// position and is a byte remap (every dtype); linear and cubic mix `taps` positions in
/// floating point.
public enum Resize {
    /// The interpolation (raw values are ONNX's `mode` values).
    public enum Mode: String, Sendable {
        case nearest, linear, cubic
    }

    /// How nearest mode rounds a fractional source coordinate (raw values are ONNX's
    /// `nearest_mode` values; the `round_prefer_*` modes round halves down or up).
    public enum NearestRounding: String, Sendable {
        case roundPreferFloor = "round_prefer_floor"
        case roundPreferCeil = "round_prefer_ceil"
        case floor, ceil
    }

    /// How an output coordinate maps to an input coordinate (raw values are ONNX's
    /// `coordinate_transformation_mode` values; formulas in ``sourceCoordinate(_:transform:scale:inputLength:outputLength:roi:)``).
    public enum CoordinateTransform: String, Sendable {
        case halfPixel = "half_pixel"
        case halfPixelSymmetric = "half_pixel_symmetric"
        case pytorchHalfPixel = "pytorch_half_pixel"
        case alignCorners = "align_corners"
        case asymmetric
        case tfHalfPixelForNearest = "tf_half_pixel_for_nearest"
        case tfCropAndResize = "tf_crop_and_resize"
    }

    /// Everything but the shapes.
    public struct Parameters: Sendable {
        /// Nearest, linear or cubic.
        public var mode: Mode
        /// Nearest mode's rounding.
        public var nearestRounding: NearestRounding
        /// The coordinate transformation.
        public var transform: CoordinateTransform
        /// Cubic's `A` (ONNX `cubic_coeff_a`).
        public var cubicCoefficient: Double
        /// Zero the weights of positions outside the input and renormalize.
        public var excludeOutside: Bool
        /// Widen the linear/cubic kernel when downsampling.
        public var antialias: Bool

        /// Creates parameters.
        public init(
            mode: Mode, nearestRounding: NearestRounding = .roundPreferFloor,
            transform: CoordinateTransform = .halfPixel, cubicCoefficient: Double = -0.75,
            excludeOutside: Bool = false, antialias: Bool = false
        ) {
            self.mode = mode
            self.nearestRounding = nearestRounding
            self.transform = transform
            self.cubicCoefficient = cubicCoefficient
            self.excludeOutside = excludeOutside
            self.antialias = antialias
        }
    }

    /// The input coordinate of output position `x` along one axis.
    ///
    /// `scale` is the axis's scale; `outputLength` its integer output extent; `roi` the
    /// crop box for `tf_crop_and_resize`. As in the ONNX reference, the "resized length" in
    /// the formulas is `scale * inputLength`, which differs from `outputLength` when the
    /// scale does not divide evenly.
    public static func sourceCoordinate(
        _ x: Int, transform: CoordinateTransform, scale: Double, inputLength: Int, outputLength: Int,
        roi: (start: Double, end: Double)
    ) -> Double {
        let position = Double(x)
        let resized = scale * Double(inputLength)
        let input = Double(inputLength)
        switch transform {
        case .halfPixel:
            return (position + 0.5) / scale - 0.5
        case .halfPixelSymmetric:
            let adjustment = Double(outputLength) / resized
            let offset = input / 2 * (1 - adjustment)
            return offset + (position + 0.5) / scale - 0.5
        case .pytorchHalfPixel:
            return resized == 1 ? 0 : (position + 0.5) / scale - 0.5
        case .alignCorners:
            return resized == 1 ? 0 : position * (input - 1) / (resized - 1)
        case .asymmetric:
            return position / scale
        case .tfHalfPixelForNearest:
            return (position + 0.5) / scale
        case .tfCropAndResize:
            let span = (roi.end - roi.start) * (input - 1)
            let start = roi.start * (input - 1)
            return resized == 1 ? start + span / 2 : start + position * span / (resized - 1)
        }
    }

    /// Builds the plan of one axis.
    public static func plan(
        inputLength: Int, outputLength: Int, scale: Double, roi: (start: Double, end: Double) = (0, 1),
        parameters: Parameters
    ) -> ResizeAxisPlan {
        let taps = tapCount(scale: scale, parameters: parameters)
        var indices = [Int](repeating: 0, count: outputLength * taps)
        var weights = [Double](repeating: 0, count: outputLength * taps)
        var extrapolated = [Bool](repeating: false, count: outputLength)
        let last = inputLength - 1
        for output in 0..<outputLength {
            let raw = sourceCoordinate(
                output, transform: parameters.transform, scale: scale, inputLength: inputLength,
                outputLength: outputLength, roi: roi)
            // Keep Int conversions safe for absurd scales or rois (NaN reads position 0).
            let x = raw.isNaN ? 0 : Swift.min(Swift.max(raw, -1e12), 1e12)
            if parameters.transform == .tfCropAndResize, x < 0 || x > Double(last) {
                extrapolated[output] = true
            }
            let row = output * taps
            if parameters.mode == .nearest {
                indices[row] = Swift.min(Swift.max(nearest(x, parameters.nearestRounding), 0), last)
                weights[row] = 1
                continue
            }
            let floorX = x.rounded(.down)
            let isInteger = floorX == x
            // The left neighbour is preferred: at an integer coordinate the window ends there.
            let ratio = isInteger ? 1 : x - floorX
            let first = Int(isInteger ? x : floorX + 1) - taps / 2
            var sum = 0.0
            for tap in 0..<taps {
                let weight = coefficient(tap: tap, taps: taps, ratio: ratio, scale: scale, parameters: parameters)
                let index = first + tap
                let isOutside = index < 0 || index > last
                let kept = parameters.excludeOutside && isOutside ? 0 : weight
                weights[row + tap] = kept
                indices[row + tap] = Swift.min(Swift.max(index, 0), last)
                sum += kept
            }
            if parameters.antialias || parameters.excludeOutside {
                let divisor = sum == 0 ? 1 : sum
                for tap in 0..<taps { weights[row + tap] /= divisor }
            }
        }
        return ResizeAxisPlan(
            inputLength: inputLength, outputLength: outputLength, taps: taps, indices: indices,
            weights: weights, extrapolated: extrapolated.contains(true) ? extrapolated : nil)
    }

    static func tapCount(scale: Double, parameters: Parameters) -> Int {
        switch parameters.mode {
        case .nearest: return 1
        case .linear:
            guard parameters.antialias else { return 2 }
            let start = Int((-1 / Swift.min(scale, 1)).rounded(.down)) + 1
            return 2 - 2 * start
        case .cubic:
            guard parameters.antialias else { return 4 }
            let start = Int((-2 / Swift.min(scale, 1)).rounded(.down)) + 1
            return 2 - 2 * start
        }
    }

    /// The weight of tap `tap` whose input position is `tap + 1 - taps/2 - ratio` away
    /// from the source coordinate.
    static func coefficient(tap: Int, taps: Int, ratio: Double, scale: Double, parameters: Parameters) -> Double {
        let distance = Double(tap + 1 - taps / 2) - ratio
        let kernelScale = parameters.antialias ? Swift.min(scale, 1) : 1
        let t = Swift.abs(distance * kernelScale)
        switch parameters.mode {
        case .nearest:
            return 0
        case .linear:
            return Swift.max(0, 1 - t)
        case .cubic:
            let a = parameters.cubicCoefficient
            if t <= 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
            if t < 2 { return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a }
            return 0
        }
    }

    static func nearest(_ x: Double, _ rounding: NearestRounding) -> Int {
        let floorX = x.rounded(.down)
        let fraction = x - floorX
        switch rounding {
        case .floor: return Int(floorX)
        case .ceil: return Int(x.rounded(.up))
        case .roundPreferFloor: return Int(fraction <= 0.5 ? floorX : floorX + 1)
        case .roundPreferCeil: return Int(fraction < 0.5 ? floorX : floorX + 1)
        }
    }

    /// Nearest-neighbour resize over raw bytes; `plans[axis] == nil` keeps an axis.
    ///
    /// - Parameter fill: one element's bytes, written where tf_crop_and_resize extrapolates.
    public static func nearest(
        _ source: UnsafeRawPointer, shape: [Int], plans: [ResizeAxisPlan?], fill: [UInt8], elementSize: Int,
        into destination: UnsafeMutableRawPointer, threads: Int = 1
    ) {
        let maps = shape.indices.map { axis -> [Int] in
            guard let plan = plans[axis] else { return Array(0..<shape[axis]) }
            return (0..<plan.outputLength).map { plan.extrapolated?[$0] == true ? -1 : plan.indices[$0 * plan.taps] }
        }
        Remap.copy(
            source, shape: shape, maps: maps, fill: fill, elementSize: elementSize, into: destination,
            threads: threads)
    }

    /// Linear or cubic resize of `input` (of `shape`), one planned axis at a time.
    ///
    /// - Returns: the resized elements, row-major over the output shape.
    public static func interpolate<Element: BinaryFloatingPoint>(
        _ input: [Element], shape: [Int], plans: [ResizeAxisPlan?], extrapolationValue: Element,
        threads: Int = 1
    ) -> [Element] {
        var data = input
        var current = shape
        for (axis, plan) in plans.enumerated() {
            guard let plan else { continue }
            let outer = Tensor.elementCount(Array(current.prefix(axis)))
            let inner = Tensor.elementCount(Array(current.dropFirst(axis + 1)))
            var result = [Element](repeating: 0, count: outer * plan.outputLength * inner)
            let weights = plan.weights.map { Element($0) }
            data.withUnsafeBufferPointer { source in
                result.withUnsafeMutableBufferPointer { target in
                    pass(
                        source, into: target, outer: outer, inner: inner, plan: plan, weights: weights,
                        extrapolationValue: extrapolationValue, threads: threads)
                }
            }
            data = result
            current[axis] = plan.outputLength
        }
        return data
    }

    private static func pass<Element: BinaryFloatingPoint>(
        _ source: UnsafeBufferPointer<Element>, into target: UnsafeMutableBufferPointer<Element>,
        outer: Int, inner: Int, plan: ResizeAxisPlan, weights: [Element], extrapolationValue: Element,
        threads: Int
    ) {
        let outLength = plan.outputLength
        let inLength = plan.inputLength
        let taps = plan.taps
        let rows = outer * outLength
        Parallel.forEach(rows, threads: threads, grain: max(1, 4_096 / max(inner * taps, 1))) { range in
            for row in range {
                let (o, j) = row.quotientAndRemainder(dividingBy: outLength)
                let out = row * inner
                if plan.extrapolated?[j] == true {
                    for i in 0..<inner { target[out + i] = extrapolationValue }
                    continue
                }
                for i in 0..<inner { target[out + i] = 0 }
                for tap in 0..<taps {
                    let weight = weights[j * taps + tap]
                    if weight == 0 { continue }
                    let from = (o * inLength + plan.indices[j * taps + tap]) * inner
                    for i in 0..<inner { target[out + i] = weight * source[from + i] + target[out + i] }
                }
            }
        }
    }
}

/// For one resized axis: which input positions each output position reads, with which
/// weights (`taps` per output position, row-major), and where tf_crop_and_resize
/// extrapolates (`nil` when nowhere).
public struct ResizeAxisPlan: Sendable {
    /// The axis's input extent.
    public let inputLength: Int
    /// The axis's output extent.
    public let outputLength: Int
    /// Input positions read per output position.
    public let taps: Int
    /// `outputLength * taps` input positions, clamped into the input.
    public let indices: [Int]
    /// `outputLength * taps` weights.
    public let weights: [Double]
    /// Per output position, whether it takes the extrapolation value instead.
    public let extrapolated: [Bool]?
}
