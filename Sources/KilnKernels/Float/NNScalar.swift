#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif
import KilnCore

/// A floating-point element type of the NN kernels (normalization, softmax, recurrent
/// cells), with the few libm functions they need. float16 computes through `Float`.
package protocol NNScalar: BinaryFloatingPoint, TensorElement {
    /// The type sums of `Self` accumulate in: `Float` for float16 (as NumPy does),
    /// `Self` otherwise.
    associatedtype Accumulator: BinaryFloatingPoint
    /// e^x.
    static func exponential(_ x: Self) -> Self
    /// The natural logarithm.
    static func logarithm(_ x: Self) -> Self
    /// The hyperbolic tangent.
    static func hyperbolicTangent(_ x: Self) -> Self
}

extension Float: NNScalar {
    /// Sums accumulate in `Float`.
    package typealias Accumulator = Float
    /// e^x.
    @inline(__always) package static func exponential(_ x: Float) -> Float { expf(x) }
    /// The natural logarithm.
    @inline(__always) package static func logarithm(_ x: Float) -> Float { logf(x) }
    /// The hyperbolic tangent.
    @inline(__always) package static func hyperbolicTangent(_ x: Float) -> Float { tanhf(x) }
}

extension Double: NNScalar {
    /// Sums accumulate in `Double`.
    package typealias Accumulator = Double
    /// e^x.
    @inline(__always) package static func exponential(_ x: Double) -> Double { exp(x) }
    /// The natural logarithm.
    @inline(__always) package static func logarithm(_ x: Double) -> Double { log(x) }
    /// The hyperbolic tangent.
    @inline(__always) package static func hyperbolicTangent(_ x: Double) -> Double { tanh(x) }
}

#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
extension Float16: NNScalar {
    /// Sums accumulate in `Float`.
    package typealias Accumulator = Float
    /// e^x.
    @inline(__always) package static func exponential(_ x: Float16) -> Float16 { Float16(expf(Float(x))) }
    /// The natural logarithm.
    @inline(__always) package static func logarithm(_ x: Float16) -> Float16 { Float16(logf(Float(x))) }
    /// The hyperbolic tangent.
    @inline(__always) package static func hyperbolicTangent(_ x: Float16) -> Float16 { Float16(tanhf(Float(x))) }
}
#endif

extension Tensor {
    /// The elements of a floating-point tensor as `T` (converting from another float
    /// dtype), or `nil` for a non-float dtype. For parameters that ONNX lets differ in
    /// type from the data (BatchNormalization's scale and statistics, for instance).
    func floatingScalars<T: NNScalar>(as type: T.Type) -> [T]? {
        switch dtype {
        case .float32: scalars(as: Float.self).map { T($0) }
        case .float64: scalars(as: Double.self).map { T($0) }
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: scalars(as: Float16.self).map { T($0) }
        #endif
        default: nil
        }
    }
}
