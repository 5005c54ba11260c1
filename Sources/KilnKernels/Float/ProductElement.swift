import KilnCore

/// An element type the matrix products (MatMul, Gemm, Einsum, the recurrent cells) work
/// on: floating-point types multiply-add as usual, integer types wrap on overflow (as
/// ONNX integer MatMul does in practice), so no input can trap.
package protocol ProductElement: TensorElement, Numeric {
    /// `a * b + accumulator` (wrapping for integers).
    static func multiplyAdd(_ a: Self, _ b: Self, _ accumulator: Self) -> Self
}

extension Float: ProductElement {
    /// `a * b + accumulator`.
    @inline(__always) package static func multiplyAdd(_ a: Float, _ b: Float, _ accumulator: Float) -> Float { a * b + accumulator }
}

extension Double: ProductElement {
    /// `a * b + accumulator`.
    @inline(__always) package static func multiplyAdd(_ a: Double, _ b: Double, _ accumulator: Double) -> Double { a * b + accumulator }
}

#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
extension Float16: ProductElement {
    /// `a * b + accumulator`.
    @inline(__always) package static func multiplyAdd(_ a: Float16, _ b: Float16, _ accumulator: Float16) -> Float16 { a * b + accumulator }
}
#endif

/// Wrapping multiply-add for the fixed-width integer element types.
package protocol WrappingProductElement: ProductElement, FixedWidthInteger {}

extension WrappingProductElement {
    /// `a &* b &+ accumulator`.
    @inline(__always) package static func multiplyAdd(_ a: Self, _ b: Self, _ accumulator: Self) -> Self { a &* b &+ accumulator }
}

extension Int32: WrappingProductElement {}
extension Int64: WrappingProductElement {}
extension UInt32: WrappingProductElement {}
extension UInt64: WrappingProductElement {}
