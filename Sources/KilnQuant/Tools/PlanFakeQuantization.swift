import Foundation
import KilnCore
import KilnIR
import KilnInterpreter

/// Float fake quantization by a plan — the "quantized path" the accuracy tools compare
/// with the float model: each planned float tensor becomes `dequantize(quantize(x))` with
/// its plan entry (``FakeQuantization``: what a QuantizeLinear/DequantizeLinear pair does).
///
/// It is the float view of the plan, enough for the statistics bias correction and fast
/// finetune gather; the integer pipeline of DPU layers (shifts, bias alignment) is
/// ``QuantSim``'s.
enum PlanFakeQuantization {
    /// `tensor` quantized and dequantized by `quantization` (float32; others unchanged).
    static func apply(_ quantization: TensorQuantization, to tensor: Tensor) -> Tensor {
        FakeQuantization.apply(quantization, to: tensor)
    }

    /// Maps a flat element index to its channel along the plan's `axis` (0 when per-tensor).
    static func channelIndex(_ quantization: TensorQuantization, shape: [Int]) -> (Int) -> Int {
        guard let axis = quantization.axis, quantization.scales.count > 1, axis >= 0, axis < shape.count else {
            return { _ in 0 }
        }
        let inner = Tensor.elementCount(Array(shape[(axis + 1)...]))
        let extent = shape[axis]
        return { index in (index / max(inner, 1)) % max(extent, 1) }
    }

    /// The constants of `graph` with every planned float initializer fake-quantized.
    static func constants(_ graph: Graph, plan: QuantizationPlan) -> [ValueID: Tensor] {
        var constants = graph.initializers
        for (id, tensor) in graph.initializers {
            if let quantization = plan.tensors[graph[id].name] { constants[id] = apply(quantization, to: tensor) }
        }
        return constants
    }

    /// A value hook that fake-quantizes every planned float value the interpreter computes.
    static func hook(_ plan: QuantizationPlan) -> ValueHook {
        let tensors = plan.tensors
        return { name, tensor in tensors[name].map { apply($0, to: tensor) } }
    }
}

extension TensorQuantization {
    /// `value` quantized and dequantized on channel `channel`'s grid (per-tensor: 0), with
    /// the arithmetic of ``FakeQuantization/apply(_:to:)`` on one float32 element.
    func fakeQuantized(_ value: Double, channel: Int) -> Double {
        if let position = fixPosition {
            let q = FixedPoint.quantize(Float(value), fixPosition: position, mode: roundMode, range: integerRange)
            return Double(Float(q) * exp2f(Float(-position)))
        }
        let index = scales.count > 1 ? min(channel, scales.count - 1) : 0
        guard index < scales.count, index < zeroPoints.count else { return value }
        let (scale, zeroPoint) = (scales[index], Double(zeroPoints[index]))
        let scaled = Double(Float(value) / scale)
        guard !scaled.isNaN else { return 0 }
        let q = min(max(roundMode.round(scaled) + zeroPoint, Double(integerRange.lowerBound)), Double(integerRange.upperBound))
        return Double(Float((q - zeroPoint) * Double(scale)))
    }

    /// Scale and zero point of channel `channel` (`2^-p` and 0 for a fix position).
    func grid(_ channel: Int) -> (scale: Double, zeroPoint: Double) {
        if let position = fixPosition { return (exp2(Double(-position)), 0) }
        let index = scales.count > 1 ? min(channel, scales.count - 1) : 0
        let scale = Double(scales.isEmpty ? 1 : scales[index])
        let zeroPoint = Double(zeroPoints.isEmpty ? 0 : zeroPoints[min(index, zeroPoints.count - 1)])
        return (scale, zeroPoint)
    }
}
