#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif
import KilnCore

/// A floating-point element type with the libm functions the elementwise kernels need.
///
/// `Float` and `Double` conform; `float16` tensors are computed through `Float` (see
/// ``Float16Bridge``), which is as accurate for these functions.
public protocol KernelFloat: BinaryFloatingPoint, TensorElement {
    /// e^x.
    static func exp(_ x: Self) -> Self
    /// e^x - 1, accurate near 0.
    static func expm1(_ x: Self) -> Self
    /// Natural logarithm.
    static func log(_ x: Self) -> Self
    /// log(1 + x), accurate near 0.
    static func log1p(_ x: Self) -> Self
    /// The error function.
    static func erf(_ x: Self) -> Self
    /// x^y.
    static func pow(_ x: Self, _ y: Self) -> Self
    /// Sine.
    static func sin(_ x: Self) -> Self
    /// Cosine.
    static func cos(_ x: Self) -> Self
    /// Tangent.
    static func tan(_ x: Self) -> Self
    /// Arcsine.
    static func asin(_ x: Self) -> Self
    /// Arccosine.
    static func acos(_ x: Self) -> Self
    /// Arctangent.
    static func atan(_ x: Self) -> Self
    /// Hyperbolic sine.
    static func sinh(_ x: Self) -> Self
    /// Hyperbolic cosine.
    static func cosh(_ x: Self) -> Self
    /// Hyperbolic tangent.
    static func tanh(_ x: Self) -> Self
    /// Inverse hyperbolic sine.
    static func asinh(_ x: Self) -> Self
    /// Inverse hyperbolic cosine.
    static func acosh(_ x: Self) -> Self
    /// Inverse hyperbolic tangent.
    static func atanh(_ x: Self) -> Self
    /// The C `fmod` remainder (sign of `x`).
    static func fmod(_ x: Self, _ y: Self) -> Self
}

/// `Float` forwards to the C `…f` functions.
extension Float: KernelFloat {
    @inline(__always) public static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) public static func expm1(_ x: Float) -> Float { expm1f(x) }
    @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    @inline(__always) public static func log1p(_ x: Float) -> Float { log1pf(x) }
    @inline(__always) public static func erf(_ x: Float) -> Float { erff(x) }
    @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inline(__always) public static func sin(_ x: Float) -> Float { sinf(x) }
    @inline(__always) public static func cos(_ x: Float) -> Float { cosf(x) }
    @inline(__always) public static func tan(_ x: Float) -> Float { tanf(x) }
    @inline(__always) public static func asin(_ x: Float) -> Float { asinf(x) }
    @inline(__always) public static func acos(_ x: Float) -> Float { acosf(x) }
    @inline(__always) public static func atan(_ x: Float) -> Float { atanf(x) }
    @inline(__always) public static func sinh(_ x: Float) -> Float { sinhf(x) }
    @inline(__always) public static func cosh(_ x: Float) -> Float { coshf(x) }
    @inline(__always) public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inline(__always) public static func asinh(_ x: Float) -> Float { asinhf(x) }
    @inline(__always) public static func acosh(_ x: Float) -> Float { acoshf(x) }
    @inline(__always) public static func atanh(_ x: Float) -> Float { atanhf(x) }
    @inline(__always) public static func fmod(_ x: Float, _ y: Float) -> Float { fmodf(x, y) }
}

/// `Double` forwards to the C functions.
extension Double: KernelFloat {
    @inline(__always) public static func exp(_ x: Double) -> Double { libmExp(x) }
    @inline(__always) public static func expm1(_ x: Double) -> Double { libmExpm1(x) }
    @inline(__always) public static func log(_ x: Double) -> Double { libmLog(x) }
    @inline(__always) public static func log1p(_ x: Double) -> Double { libmLog1p(x) }
    @inline(__always) public static func erf(_ x: Double) -> Double { libmErf(x) }
    @inline(__always) public static func sin(_ x: Double) -> Double { libmSin(x) }
    @inline(__always) public static func cos(_ x: Double) -> Double { libmCos(x) }
    @inline(__always) public static func tan(_ x: Double) -> Double { libmTan(x) }
    @inline(__always) public static func asin(_ x: Double) -> Double { libmAsin(x) }
    @inline(__always) public static func acos(_ x: Double) -> Double { libmAcos(x) }
    @inline(__always) public static func atan(_ x: Double) -> Double { libmAtan(x) }
    @inline(__always) public static func sinh(_ x: Double) -> Double { libmSinh(x) }
    @inline(__always) public static func cosh(_ x: Double) -> Double { libmCosh(x) }
    @inline(__always) public static func tanh(_ x: Double) -> Double { libmTanh(x) }
    @inline(__always) public static func asinh(_ x: Double) -> Double { libmAsinh(x) }
    @inline(__always) public static func acosh(_ x: Double) -> Double { libmAcosh(x) }
    @inline(__always) public static func atanh(_ x: Double) -> Double { libmAtanh(x) }
    @inline(__always) public static func pow(_ x: Double, _ y: Double) -> Double { libmPow(x, y) }
    @inline(__always) public static func fmod(_ x: Double, _ y: Double) -> Double { libmFmod(x, y) }
}

// File-scope forwards to the C functions: inside `extension Double`, an unqualified `exp`
// would name the member being defined.
@inline(__always) private func libmExp(_ x: Double) -> Double { exp(x) }
@inline(__always) private func libmExpm1(_ x: Double) -> Double { expm1(x) }
@inline(__always) private func libmLog(_ x: Double) -> Double { log(x) }
@inline(__always) private func libmLog1p(_ x: Double) -> Double { log1p(x) }
@inline(__always) private func libmErf(_ x: Double) -> Double { erf(x) }
@inline(__always) private func libmSin(_ x: Double) -> Double { sin(x) }
@inline(__always) private func libmCos(_ x: Double) -> Double { cos(x) }
@inline(__always) private func libmTan(_ x: Double) -> Double { tan(x) }
@inline(__always) private func libmAsin(_ x: Double) -> Double { asin(x) }
@inline(__always) private func libmAcos(_ x: Double) -> Double { acos(x) }
@inline(__always) private func libmAtan(_ x: Double) -> Double { atan(x) }
@inline(__always) private func libmSinh(_ x: Double) -> Double { sinh(x) }
@inline(__always) private func libmCosh(_ x: Double) -> Double { cosh(x) }
@inline(__always) private func libmTanh(_ x: Double) -> Double { tanh(x) }
@inline(__always) private func libmAsinh(_ x: Double) -> Double { asinh(x) }
@inline(__always) private func libmAcosh(_ x: Double) -> Double { acosh(x) }
@inline(__always) private func libmAtanh(_ x: Double) -> Double { atanh(x) }
@inline(__always) private func libmPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
@inline(__always) private func libmFmod(_ x: Double, _ y: Double) -> Double { fmod(x, y) }
