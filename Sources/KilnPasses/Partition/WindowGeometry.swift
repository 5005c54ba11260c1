import KilnIR
import KilnTargets

/// The window of a convolution or pooling node, read from its attributes and shapes:
/// spatial kernel, strides, dilations and the padding actually applied (with `auto_pad`
/// resolved), axis by axis in ONNX order (depth, height, width).
struct WindowGeometry: Equatable {
    /// Kernel size per spatial axis.
    var kernel: [Int]
    /// Stride per spatial axis.
    var strides: [Int]
    /// Dilation per spatial axis.
    var dilations: [Int]
    /// Padding at the start of each spatial axis.
    var padsBegin: [Int]
    /// Padding at the end of each spatial axis.
    var padsEnd: [Int]

    /// The number of spatial axes.
    var rank: Int { kernel.count }

    /// Reads the window of `node`; `kernel` is the spatial kernel (from `kernel_shape` or
    /// the weights), `input` the data input's static shape (for `auto_pad`).
    ///
    /// - Returns: `nil` when attribute lengths disagree with the kernel rank.
    init?(_ context: RuleContext, kernel: [Int], input: [Int]) {
        let rank = kernel.count
        let strides = context.ints("strides") ?? Array(repeating: 1, count: rank)
        let dilations = context.ints("dilations") ?? Array(repeating: 1, count: rank)
        guard strides.count == rank, dilations.count == rank, input.count == rank + 2 else { return nil }
        var begin = Array(repeating: 0, count: rank)
        var end = Array(repeating: 0, count: rank)
        switch context.string("auto_pad", default: "NOTSET") {
        case "SAME_UPPER", "SAME_LOWER":
            let lower = context.string("auto_pad", default: "") == "SAME_LOWER"
            for axis in 0..<rank {
                let size = input[axis + 2]
                let output = (size + strides[axis] - 1) / strides[axis]
                let total = max(0, (output - 1) * strides[axis] + (kernel[axis] - 1) * dilations[axis] + 1 - size)
                begin[axis] = lower ? total - total / 2 : total / 2
                end[axis] = total - begin[axis]
            }
        case "VALID":
            break
        default:
            if let pads = context.ints("pads") {
                guard pads.count == 2 * rank else { return nil }
                begin = Array(pads[0..<rank])
                end = Array(pads[rank...])
            }
        }
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        padsBegin = begin
        padsEnd = end
    }

    /// The sizes the catalog's rules are stated over (width is the last axis).
    func layer(inputChannels: Int, outputChannels: Int) -> LayerGeometry {
        LayerGeometry(
            kernelWidth: kernel[rank - 1], kernelHeight: rank >= 2 ? kernel[rank - 2] : 1,
            kernelDepth: rank >= 3 ? kernel[rank - 3] : 1,
            strideWidth: strides[rank - 1], strideHeight: rank >= 2 ? strides[rank - 2] : 1,
            dilation: dilations.max() ?? 1, inputChannels: inputChannels, outputChannels: outputChannels)
    }

    /// `3x3`, `3x3x3`.
    var kernelText: String { kernel.map(String.init).joined(separator: "x") }

    /// `2` when every axis agrees, else `2x1`.
    static func text(_ values: [Int]) -> String {
        Set(values).count == 1 ? String(values[0]) : values.map(String.init).joined(separator: "x")
    }

    /// Why `limits` reject this window, or `nil` when they accept it.
    ///
    /// Checks the kernel and stride ranges (height and width against ``WindowLimits/kernel``
    /// and ``WindowLimits/stride``, depth against the depth limits), `kernel / stride`
    /// for transposed convolutions, the padding limit, then every size rule.
    func violation(of limits: WindowLimits, layer: LayerGeometry) -> String? {
        let planar = Array(kernel.suffix(2))
        let planarStrides = Array(strides.suffix(2))
        if let allowed = limits.kernel, let bad = planar.first(where: { !allowed.contains($0) }) {
            return "kernel \(planar.map(String.init).joined(separator: "x")) " + Self.outside(allowed, bad)
        }
        if rank == 3, let allowed = limits.kernelDepth, !allowed.contains(kernel[0]) {
            return "kernel depth \(kernel[0]) " + Self.outside(allowed, kernel[0])
        }
        if let allowed = limits.stride, !planarStrides.allSatisfy(allowed.contains) {
            return "stride \(Self.text(planarStrides)) exceeds the \(allowed) limit"
        }
        if rank == 3, let allowed = limits.strideDepth, !allowed.contains(strides[0]) {
            return "stride depth \(strides[0]) exceeds the \(allowed) limit"
        }
        if let ratio = limits.kernelOverStride {
            for axis in kernel.indices where !Self.ratioAllowed(kernel[axis], strides[axis], ratio) {
                return "kernel/stride \(kernel[axis])/\(strides[axis]) is outside the \(ratio) limit"
            }
        }
        if let padding = limits.padding {
            for axis in kernel.indices {
                let maximum = padding.maximum(kernel: kernel[axis], dilation: dilations[axis])
                for pad in [padsBegin[axis], padsEnd[axis]] where pad > maximum || pad < padding.minimum {
                    return "pad \(pad) is outside the \(padding) limit (\(padding.minimum)..\(maximum) for kernel \(kernel[axis])"
                        + (dilations[axis] > 1 ? ", dilation \(dilations[axis]))" : ")")
                }
            }
        }
        for rule in limits.constraints where !rule.isSatisfied(by: layer) {
            return SupportRules.describeViolation(rule, layer)
        }
        return nil
    }

    /// `exceeds the 1..16 limit` or `is not one of {1, 2, 3, 5, 7}`.
    private static func outside(_ allowed: AllowedSizes, _ value: Int) -> String {
        switch allowed {
        case .range: "exceeds the \(allowed) limit"
        case .values: "is not one of \(allowed)"
        }
    }

    /// Whether `kernel / stride` lies in `allowed` (a range is compared as a real ratio,
    /// a list needs an exact quotient).
    private static func ratioAllowed(_ kernel: Int, _ stride: Int, _ allowed: AllowedSizes) -> Bool {
        guard stride > 0 else { return false }
        switch allowed {
        case .range(let range):
            return kernel >= range.min * stride && kernel <= range.max * stride
        case .values(let values):
            return kernel % stride == 0 && values.contains(kernel / stride)
        }
    }
}
