import CKilnKernels
import KilnCore

/// A unary elementwise op whose output has its input's shape and dtype. Parameters are
/// the ONNX attributes of the op.
public enum UnaryOp: Sendable, Hashable {
    // Math
    case abs, neg, ceil, floor
    /// Rounds half to even.
    case round
    case sign, sqrt, reciprocal, exp, log, erf
    case sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, asinh, acosh, atanh
    // Activations
    case relu
    case leakyRelu(alpha: Float)
    case elu(alpha: Float)
    case selu(alpha: Float, gamma: Float)
    case celu(alpha: Float)
    case sigmoid
    /// x · sigmoid(x) (SiLU, also called swish).
    case silu
    case hardSigmoid(alpha: Float, beta: Float)
    case hardSwish
    case softplus, softsign
    /// GELU; `tanh` selects the tanh approximation.
    case gelu(tanh: Bool)
    case mish
    case thresholdedRelu(alpha: Float)
    /// Clamps to `[min, max]` (either bound optional); NaN stays NaN.
    case clip(min: Double?, max: Double?)
}

/// Unary elementwise kernels over contiguous buffers.
public enum UnaryKernels {
    /// Elements per parallel chunk.
    static let grain = 1 << 14

    /// `output = op(input)` for tensors of one dtype and shape.
    ///
    /// Floats support every op; integers support `abs`, `neg`, `sign`, `relu`, `clip`
    /// (and `ceil`, `floor`, `round` as the identity).
    ///
    /// - Throws: `kernelMissing` for an op without a kernel for the dtype.
    public static func apply(_ op: UnaryOp, _ input: Tensor, into output: inout Tensor, threads: Int = 1) throws {
        precondition(input.dtype == output.dtype && input.count == output.count, "UnaryKernels: mismatch")
        switch input.dtype {
        case .float32: floating(op, Float.self, input, &output, threads)
        case .float64: floating(op, Double.self, input, &output, threads)
        case .float16:
            var wide = Tensor(zeros: output.shape, dtype: .float32)
            floating(op, Float.self, try Float16Bridge.widened(input), &wide, threads)
            try CastKernels.cast(wide, into: &output)
        case .int8: try integer(op, Int8.self, input, &output, threads)
        case .uint8: try integer(op, UInt8.self, input, &output, threads)
        case .int16: try integer(op, Int16.self, input, &output, threads)
        case .uint16: try integer(op, UInt16.self, input, &output, threads)
        case .int32: try integer(op, Int32.self, input, &output, threads)
        case .uint32: try integer(op, UInt32.self, input, &output, threads)
        case .int64: try integer(op, Int64.self, input, &output, threads)
        case .uint64: try integer(op, UInt64.self, input, &output, threads)
        case .bool: throw KilnError(.kernelMissing, "\(op): no bool kernel")
        }
    }

    /// `output[i] = !input[i]` for `bool` tensors.
    public static func logicalNot(_ input: Tensor, into output: inout Tensor) {
        input.withUnsafeBufferPointer(as: Bool.self) { x in
            output.withUnsafeMutableBufferPointer(as: Bool.self) { y in
                for i in x.indices { y[i] = !x[i] }
            }
        }
    }

    /// `IsNaN` (`infinity == nil`) or `IsInf` (`infinity` says which signs count) into a
    /// `bool` output.
    ///
    /// - Throws: `kernelMissing` for a non-float input.
    public static func classify(
        _ input: Tensor, infinity: (negative: Bool, positive: Bool)?, into output: inout Tensor
    ) throws {
        let wide: Tensor
        switch input.dtype {
        case .float32, .float64: wide = input
        case .float16: wide = try Float16Bridge.widened(input)
        default: throw KilnError(.kernelMissing, "\(infinity == nil ? "IsNaN" : "IsInf"): no \(input.dtype) kernel")
        }
        func run<T: KernelFloat>(_ type: T.Type) {
            wide.withUnsafeBufferPointer(as: T.self) { x in
                output.withUnsafeMutableBufferPointer(as: Bool.self) { y in
                    if let infinity {
                        for i in x.indices {
                            y[i] = x[i].isInfinite && (x[i] < 0 ? infinity.negative : infinity.positive)
                        }
                    } else {
                        for i in x.indices { y[i] = x[i].isNaN }
                    }
                }
            }
        }
        if wide.dtype == .float64 { run(Double.self) } else { run(Float.self) }
    }

    // MARK: Typed kernels

    private static func floating<T: KernelFloat>(
        _ op: UnaryOp, _ type: T.Type, _ input: Tensor, _ output: inout Tensor, _ threads: Int
    ) {
        input.withUnsafeBufferPointer(as: T.self) { x in
            output.withUnsafeMutableBufferPointer(as: T.self) { y in
                floating(op, x, y, threads)
            }
        }
    }

    /// The float kernels over raw buffers of equal length.
    public static func floating<T: KernelFloat>(
        _ op: UnaryOp, _ x: UnsafeBufferPointer<T>, _ y: UnsafeMutableBufferPointer<T>, _ threads: Int
    ) {
        if T.self == Float.self {
            // Specialized here: a generic call from another module runs unspecialized code
            // (witness-table calls per element).
            floating(
                op, UnsafeRawBufferPointer(x).assumingMemoryBound(to: Float.self),
                UnsafeMutableRawBufferPointer(y).assumingMemoryBound(to: Float.self), threads)
        } else {
            mapped(op, x, y, threads)
        }
    }

    /// ``floating(_:_:_:_:)`` on float32, the common case, specialized.
    public static func floating(
        _ op: UnaryOp, _ x: UnsafeBufferPointer<Float>, _ y: UnsafeMutableBufferPointer<Float>, _ threads: Int
    ) {
        mapped(op, x, y, threads)
    }

    @inline(__always)
    private static func mapped<T: KernelFloat>(
        _ op: UnaryOp, _ x: UnsafeBufferPointer<T>, _ y: UnsafeMutableBufferPointer<T>, _ threads: Int
    ) {
        if T.self == Float.self, NativeKernels.activeISA >= .avx2,
            let kernel = nativeKernel(op, isa: NativeKernels.activeISA.rawValue)
        {
            nativeMap(UnsafeRawBufferPointer(x), UnsafeMutableRawBufferPointer(y), threads, kernel)
            return
        }
        switch op {
        case .abs: map(x, y, threads) { Swift.abs($0) }
        case .neg: map(x, y, threads) { -$0 }
        case .ceil: map(x, y, threads) { $0.rounded(.up) }
        case .floor: map(x, y, threads) { $0.rounded(.down) }
        case .round: map(x, y, threads) { $0.rounded(.toNearestOrEven) }
        case .sign: map(x, y, threads) { $0 > 0 ? 1 : ($0 < 0 ? -1 : $0) }
        case .sqrt: map(x, y, threads) { $0.squareRoot() }
        case .reciprocal: map(x, y, threads) { 1 / $0 }
        case .exp: map(x, y, threads) { T.exp($0) }
        case .log: map(x, y, threads) { T.log($0) }
        case .erf: map(x, y, threads) { T.erf($0) }
        case .sin: map(x, y, threads) { T.sin($0) }
        case .cos: map(x, y, threads) { T.cos($0) }
        case .tan: map(x, y, threads) { T.tan($0) }
        case .asin: map(x, y, threads) { T.asin($0) }
        case .acos: map(x, y, threads) { T.acos($0) }
        case .atan: map(x, y, threads) { T.atan($0) }
        case .sinh: map(x, y, threads) { T.sinh($0) }
        case .cosh: map(x, y, threads) { T.cosh($0) }
        case .tanh: map(x, y, threads) { T.tanh($0) }
        case .asinh: map(x, y, threads) { T.asinh($0) }
        case .acosh: map(x, y, threads) { T.acosh($0) }
        case .atanh: map(x, y, threads) { T.atanh($0) }
        case .relu: map(x, y, threads) { $0 < 0 ? 0 : $0 }
        case .silu: map(x, y, threads) { $0 / (1 + T.exp(-$0)) }
        case .leakyRelu(let alpha):
            let alpha = T(alpha)
            map(x, y, threads) { $0 < 0 ? alpha * $0 : $0 }
        case .elu(let alpha):
            let alpha = T(alpha)
            map(x, y, threads) { $0 < 0 ? alpha * T.expm1($0) : $0 }
        case .selu(let alpha, let gamma):
            let alpha = T(alpha)
            let gamma = T(gamma)
            map(x, y, threads) { $0 <= 0 ? gamma * alpha * T.expm1($0) : gamma * $0 }
        case .celu(let alpha):
            let alpha = T(alpha)
            map(x, y, threads) { $0 < 0 ? alpha * T.expm1($0 / alpha) : $0 }
        case .sigmoid: map(x, y, threads) { sigmoid($0) }
        case .hardSigmoid(let alpha, let beta):
            let alpha = T(alpha)
            let beta = T(beta)
            map(x, y, threads) { Swift.max(0, Swift.min(1, alpha * $0 + beta)) }
        case .hardSwish:
            map(x, y, threads) { $0 * Swift.max(0, Swift.min(1, $0 / 6 + 0.5)) }
        case .softplus: map(x, y, threads) { softplus($0) }
        case .softsign: map(x, y, threads) { $0 / (1 + Swift.abs($0)) }
        case .gelu(tanh: false):
            let scale = 1 / T(2).squareRoot()
            map(x, y, threads) { 0.5 * $0 * (1 + T.erf($0 * scale)) }
        case .gelu(tanh: true):
            let scale = (2 / T.pi).squareRoot()
            map(x, y, threads) { 0.5 * $0 * (1 + T.tanh(scale * ($0 + 0.044715 * $0 * $0 * $0))) }
        case .mish: map(x, y, threads) { $0 * T.tanh(softplus($0)) }
        case .thresholdedRelu(let alpha):
            let alpha = T(alpha)
            map(x, y, threads) { $0 > alpha ? $0 : 0 }
        case .clip(let low, let high):
            let low = low.map { T($0) } ?? -T.infinity
            let high = high.map { T($0) } ?? T.infinity
            // numpy's clip: the lower bound first, so min > max gives max.
            map(x, y, threads) { value in
                let raised = value < low ? low : value
                return raised > high ? high : raised
            }
        }
    }

    /// 1 / (1 + e^-x), without overflow for large |x|.
    @inline(__always)
    static func sigmoid<T: KernelFloat>(_ x: T) -> T {
        if x >= 0 { return 1 / (1 + T.exp(-x)) }
        let e = T.exp(x)
        return e / (1 + e)
    }

    /// log(1 + e^x), without overflow for large x.
    @inline(__always)
    static func softplus<T: KernelFloat>(_ x: T) -> T {
        x > 0 ? x + T.log1p(T.exp(-x)) : T.log1p(T.exp(x))
    }

    private static func integer<T: FixedWidthInteger & CastElement>(
        _ op: UnaryOp, _ type: T.Type, _ input: Tensor, _ output: inout Tensor, _ threads: Int
    ) throws {
        try input.withUnsafeBufferPointer(as: T.self) { x in
            try output.withUnsafeMutableBufferPointer(as: T.self) { y in
                switch op {
                case .abs: map(x, y, threads) { $0 < 0 ? 0 &- $0 : $0 }
                case .neg: map(x, y, threads) { 0 &- $0 }
                case .sign: map(x, y, threads) { $0 > 0 ? 1 : ($0 < 0 ? 0 &- 1 : 0) }
                case .relu: map(x, y, threads) { $0 < 0 ? 0 : $0 }
                case .ceil, .floor, .round: map(x, y, threads) { $0 }
                case .clip(let low, let high):
                    let low = low.map { T(castFrom: $0) } ?? T.min
                    let high = high.map { T(castFrom: $0) } ?? T.max
                    map(x, y, threads) { Swift.min(Swift.max($0, low), high) }
                default:
                    throw KilnError(.kernelMissing, "\(op): no \(T.dtype) kernel")
                }
            }
        }
    }

    @inline(__always)
    /// The native vector kernel of `op` (float32, AVX2) as a call on `count` elements from
    /// `source` to `target`, when there is one.
    private static func nativeKernel(
        _ op: UnaryOp, isa: Int32
    ) -> ((_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, _ count: Int) -> Void)? {
        let function: Int32
        switch op {
        case .exp: function = Int32(CKILN_EXP)
        case .sigmoid: function = Int32(CKILN_SIGMOID)
        case .silu: function = Int32(CKILN_SILU)
        case .tanh: function = Int32(CKILN_TANH)
        case .gelu(tanh: false): function = Int32(CKILN_GELU)
        case .hardSigmoid(let alpha, let beta):
            return { ckiln_hard_sigmoid(isa, alpha, beta, 0, $0, $1, $2) }
        case .hardSwish:
            return { ckiln_hard_sigmoid(isa, 1 / 6, 0.5, 1, $0, $1, $2) }
        default: return nil
        }
        return { ckiln_vector_math(isa, function, $0, $1, $2) }
    }

    /// `kernel` over float32 buffers of equal length, split over threads.
    private static func nativeMap(
        _ x: UnsafeRawBufferPointer, _ y: UnsafeMutableRawBufferPointer, _ threads: Int,
        _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) {
        guard let source = x.baseAddress?.assumingMemoryBound(to: Float.self),
            let target = y.baseAddress?.assumingMemoryBound(to: Float.self)
        else { return }
        Parallel.forEach(x.count / MemoryLayout<Float>.stride, threads: threads, grain: grain) { range in
            kernel(source + range.lowerBound, target + range.lowerBound, range.count)
        }
    }

    @inline(__always)
    private static func map<T>(
        _ x: UnsafeBufferPointer<T>, _ y: UnsafeMutableBufferPointer<T>, _ threads: Int, _ f: (T) -> T
    ) {
        guard let source = x.baseAddress, let target = y.baseAddress else { return }
        Parallel.forEach(x.count, threads: threads, grain: grain) { range in
            for i in range { target[i] = f(source[i]) }
        }
    }
}
