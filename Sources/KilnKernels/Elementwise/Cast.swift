import KilnCore

/// How a ``CastElement`` widens for conversion: floats through `Double`, signed integers
/// and `bool` through `Int64`, unsigned integers through `UInt64`.
public enum CastKind: Sendable {
    /// Widens through `Double`.
    case float
    /// Widens through `Int64`.
    case signed
    /// Widens through `UInt64`.
    case unsigned
}

/// An element type that converts to and from every other, with ONNX `Cast` semantics:
/// float → integer truncates toward zero (out of range wraps like a C cast through
/// `int64`), integer → narrower integer wraps, anything → `bool` is `x != 0`.
public protocol CastElement: TensorElement {
    /// How this type widens.
    static var castKind: CastKind { get }
    /// The value widened to `Double` (meaningful when `castKind == .float`).
    var castDouble: Double { get }
    /// The value widened to `Int64` (meaningful when `castKind == .signed`).
    var castInt64: Int64 { get }
    /// The value widened to `UInt64` (meaningful when `castKind == .unsigned`).
    var castUInt64: UInt64 { get }
    /// Converts from a float.
    init(castFrom value: Double)
    /// Converts from a signed integer (wrapping).
    init(castFrom value: Int64)
    /// Converts from an unsigned integer (wrapping).
    init(castFrom value: UInt64)
}

/// Truncates toward zero; NaN and out-of-range values give `Int64.min` as x86's `cvttsd2si` does.
@inline(__always)
private func truncatedInt64(_ value: Double) -> Int64 {
    value > -9.223_372_036_854_775_808e18 && value < 9.223_372_036_854_775_808e18 ? Int64(value) : .min
}

extension CastElement where Self: BinaryFloatingPoint {
    /// Floats widen through `Double`.
    public static var castKind: CastKind { .float }
    /// The value as `Double` (exact).
    public var castDouble: Double { Double(self) }
    /// The value truncated toward zero.
    public var castInt64: Int64 { truncatedInt64(Double(self)) }
    /// The value truncated toward zero, as a bit pattern.
    public var castUInt64: UInt64 { UInt64(bitPattern: truncatedInt64(Double(self))) }
    /// The nearest representable value.
    public init(castFrom value: Double) { self.init(value) }
    /// The nearest representable value.
    public init(castFrom value: Int64) { self.init(value) }
    /// The nearest representable value.
    public init(castFrom value: UInt64) { self.init(value) }
}

extension CastElement where Self: FixedWidthInteger {
    /// Integers widen through `Int64` or `UInt64` by signedness.
    public static var castKind: CastKind { Self.isSigned ? .signed : .unsigned }
    /// The value as the nearest `Double`.
    public var castDouble: Double { Double(self) }
    /// The value sign-extended or reinterpreted.
    public var castInt64: Int64 { Int64(truncatingIfNeeded: self) }
    /// The value sign-extended or reinterpreted.
    public var castUInt64: UInt64 { UInt64(truncatingIfNeeded: self) }
    /// Truncates toward zero, then wraps to the width.
    public init(castFrom value: Double) {
        if !Self.isSigned, value >= 9.223_372_036_854_775_808e18, value < 1.844_674_407_370_955_161_6e19 {
            self.init(truncatingIfNeeded: UInt64(value))
        } else {
            self.init(truncatingIfNeeded: truncatedInt64(value))
        }
    }
    /// Wraps to the width.
    public init(castFrom value: Int64) { self.init(truncatingIfNeeded: value) }
    /// Wraps to the width.
    public init(castFrom value: UInt64) { self.init(truncatingIfNeeded: value) }
}

extension Float: CastElement {}
extension Double: CastElement {}
extension Int8: CastElement {}
extension UInt8: CastElement {}
extension Int16: CastElement {}
extension UInt16: CastElement {}
extension Int32: CastElement {}
extension UInt32: CastElement {}
extension Int64: CastElement {}
extension UInt64: CastElement {}
#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
extension Float16: CastElement {}
#endif

extension Bool: CastElement {
    /// `bool` widens as the signed integer 0 or 1.
    public static var castKind: CastKind { .signed }
    /// 1 or 0.
    public var castDouble: Double { self ? 1 : 0 }
    /// 1 or 0.
    public var castInt64: Int64 { self ? 1 : 0 }
    /// 1 or 0.
    public var castUInt64: UInt64 { self ? 1 : 0 }
    /// Whether the value is non-zero (NaN is true).
    public init(castFrom value: Double) { self = value != 0 }
    /// Whether the value is non-zero.
    public init(castFrom value: Int64) { self = value != 0 }
    /// Whether the value is non-zero.
    public init(castFrom value: UInt64) { self = value != 0 }
}

/// The `Cast` kernel: converts every element of a tensor to another dtype.
public enum CastKernels {
    /// Converts `input` into `output`, which the caller allocated with the same shape and
    /// the target dtype.
    ///
    /// - Throws: `kernelMissing` for a dtype without a conversion (only `float16` on
    ///   Intel macOS).
    public static func cast(_ input: Tensor, into output: inout Tensor, threads: Int = 1) throws {
        precondition(input.count == output.count, "Cast: element counts differ")
        if input.dtype == output.dtype {
            input.withUnsafeBytes { source in
                output.withUnsafeMutableBytes { target in target.copyMemory(from: source) }
            }
            return
        }
        switch input.dtype {
        case .float32: try castFrom(Float.self, input, &output, threads)
        case .float64: try castFrom(Double.self, input, &output, threads)
        case .int8: try castFrom(Int8.self, input, &output, threads)
        case .uint8: try castFrom(UInt8.self, input, &output, threads)
        case .int16: try castFrom(Int16.self, input, &output, threads)
        case .uint16: try castFrom(UInt16.self, input, &output, threads)
        case .int32: try castFrom(Int32.self, input, &output, threads)
        case .uint32: try castFrom(UInt32.self, input, &output, threads)
        case .int64: try castFrom(Int64.self, input, &output, threads)
        case .uint64: try castFrom(UInt64.self, input, &output, threads)
        case .bool: try castFrom(Bool.self, input, &output, threads)
        case .float16:
            #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
            try castFrom(Float16.self, input, &output, threads)
            #else
            throw KilnError(.kernelMissing, "Cast: no float16 kernel on this platform")
            #endif
        }
    }

    /// A new tensor holding `input` converted to `dtype` (the input itself when it already has it).
    public static func casted(_ input: Tensor, to dtype: DType, threads: Int = 1) throws -> Tensor {
        if input.dtype == dtype { return input }
        var output = Tensor(zeros: input.shape, dtype: dtype)
        try cast(input, into: &output, threads: threads)
        return output
    }

    private static func castFrom<S: CastElement>(
        _ source: S.Type, _ input: Tensor, _ output: inout Tensor, _ threads: Int
    ) throws {
        switch output.dtype {
        case .float32: run(S.self, Float.self, input, &output, threads)
        case .float64: run(S.self, Double.self, input, &output, threads)
        case .int8: run(S.self, Int8.self, input, &output, threads)
        case .uint8: run(S.self, UInt8.self, input, &output, threads)
        case .int16: run(S.self, Int16.self, input, &output, threads)
        case .uint16: run(S.self, UInt16.self, input, &output, threads)
        case .int32: run(S.self, Int32.self, input, &output, threads)
        case .uint32: run(S.self, UInt32.self, input, &output, threads)
        case .int64: run(S.self, Int64.self, input, &output, threads)
        case .uint64: run(S.self, UInt64.self, input, &output, threads)
        case .bool: run(S.self, Bool.self, input, &output, threads)
        case .float16:
            #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
            run(S.self, Float16.self, input, &output, threads)
            #else
            throw KilnError(.kernelMissing, "Cast: no float16 kernel on this platform")
            #endif
        }
    }

    private static func run<S: CastElement, D: CastElement>(
        _ source: S.Type, _ target: D.Type, _ input: Tensor, _ output: inout Tensor, _ threads: Int
    ) {
        input.withUnsafeBufferPointer(as: S.self) { src in
            output.withUnsafeMutableBufferPointer(as: D.self) { dst in
                let dstBase = dst.baseAddress
                Parallel.forEach(src.count, threads: threads, grain: 1 << 15) { range in
                    guard let dstBase else { return }
                    switch S.castKind {
                    case .float: for i in range { dstBase[i] = D(castFrom: src[i].castDouble) }
                    case .signed: for i in range { dstBase[i] = D(castFrom: src[i].castInt64) }
                    case .unsigned: for i in range { dstBase[i] = D(castFrom: src[i].castUInt64) }
                    }
                }
            }
        }
    }
}

/// Runs `float16` tensors through `float32` kernels: widen the inputs, compute, narrow the
/// result. Exact for `+ - * /` (float32 has more than twice float16's precision) and as
/// accurate as a native float16 kernel for the transcendental functions.
public enum Float16Bridge {
    /// `tensor` widened to `float32` when it is `float16`; any other tensor unchanged.
    public static func widened(_ tensor: Tensor) throws -> Tensor {
        tensor.dtype == .float16 ? try CastKernels.casted(tensor, to: .float32) : tensor
    }

    /// `tensor` (a `float32` result) narrowed back to `dtype` when that is `float16`.
    public static func narrowed(_ tensor: Tensor, to dtype: DType) throws -> Tensor {
        dtype == .float16 && tensor.dtype == .float32 ? try CastKernels.casted(tensor, to: .float16) : tensor
    }
}
