import Foundation
import KilnCore

/// Quantize-then-dequantize of a whole tensor by its plan entry (what a `QuantizeLinear` /
/// `DequantizeLinear` pair computes).
enum FakeQuantization {
    /// `tensor` with every element replaced by the real value of its quantized integer.
    /// Tensors that are not `float32` are returned unchanged.
    ///
    /// Power-of-two entries quantize with ``FixedPoint/quantize(_:fixPosition:mode:range:)``;
    /// float entries compute `x / scale` in `Float` (as onnxruntime's `QuantizeLinear`
    /// does), round with the entry's mode, add the zero point and saturate; the real value
    /// is `(q − zero point) · scale`.
    static func apply(_ quantization: TensorQuantization, to tensor: Tensor) -> Tensor {
        guard tensor.dtype == .float32 else { return tensor }
        var output = tensor
        let range = quantization.integerRange
        output.withUnsafeMutableBufferPointer(as: Float.self) { values in
            if let position = quantization.fixPosition {
                let scale = exp2f(Float(-position))
                for index in values.indices {
                    let q = FixedPoint.quantize(
                        values[index], fixPosition: position, mode: quantization.roundMode, range: range)
                    values[index] = Float(q) * scale
                }
                return
            }
            let channels = quantization.scales.count
            let inner: Int
            if let axis = quantization.axis, channels > 1, axis < tensor.rank {
                inner = tensor.shape[(axis + 1)...].reduce(1, *)
            } else {
                inner = max(values.count, 1)
            }
            let low = Double(range.lowerBound)
            let high = Double(range.upperBound)
            for index in values.indices {
                let channel = channels > 1 ? (index / inner) % channels : 0
                let scale = quantization.scales[channel]
                let zeroPoint = Double(quantization.zeroPoints[channel])
                let scaled = Double(values[index] / scale)
                guard !scaled.isNaN else {
                    values[index] = 0
                    continue
                }
                let q = min(max(quantization.roundMode.round(scaled) + zeroPoint, low), high)
                values[index] = Float((q - zeroPoint) * Double(scale))
            }
        }
        return output
    }
}
