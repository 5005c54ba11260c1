import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// Evaluators of `QuantizeLinear` and `DequantizeLinear`; part of the Elementwise family.
    /// The importer has turned `output_dtype` into a dtype name.
    static let quantization: [OpKind: Evaluator] = [
        .quantizeLinear: { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            let scale = try context.required(inputs, 1, node)
            let zeroPoint = inputs.count > 2 ? inputs[2] : nil
            let dtype = try zeroPoint?.dtype ?? outputDType(node) ?? .uint8
            var output = context.makeOutput(0, zeros: x.shape, dtype: dtype)
            try QuantizeKernels.quantize(
                x, scale: scale, zeroPoint: zeroPoint, granularity: try granularity(node, x.rank),
                into: &output, threads: context.threads)
            return [output]
        },
        .dequantizeLinear: { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            let scale = try context.required(inputs, 1, node)
            let zeroPoint = inputs.count > 2 ? inputs[2] : nil
            if let zeroPoint, zeroPoint.dtype != x.dtype {
                throw KilnError(.shapeMismatch, "zero point is \(zeroPoint.dtype), input is \(x.dtype)")
            }
            let dtype = try outputDType(node) ?? scale.dtype
            var output = context.makeOutput(0, zeros: x.shape, dtype: dtype)
            try QuantizeKernels.dequantize(
                x, scale: scale, zeroPoint: zeroPoint, granularity: try granularity(node, x.rank),
                into: &output, threads: context.threads)
            return [output]
        },
    ]

    /// The `output_dtype` attribute as a dtype, `nil` when absent.
    private static func outputDType(_ node: Node) throws -> DType? {
        guard node.attributes.has("output_dtype") else { return nil }
        let name = try node.attributes.string("output_dtype", default: "")
        guard let dtype = DType(rawValue: name) else {
            throw KilnError(.invalidModel, "output_dtype must name a dtype, got '\(name)'")
        }
        return dtype
    }

    private static func granularity(_ node: Node, _ rank: Int) throws -> QuantizationGranularity {
        let axis = try node.attributes.int("axis", default: 1)
        let blockSize = try node.attributes.int("block_size", default: 0)
        // A per-tensor scale ignores the axis, which may then be out of range.
        let normalized = rank == 0 ? 0 : (try? normalizedAxis(axis, rank: rank)) ?? axis
        return QuantizationGranularity(axis: normalized, blockSize: blockSize)
    }
}
