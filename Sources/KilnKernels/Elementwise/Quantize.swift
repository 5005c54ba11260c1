import KilnCore

/// How a scale (and zero point) tensor maps onto the elements of `x`, seen as
/// `[outer, channels, inner]` around the quantization axis.
public struct QuantizationGranularity: Sendable, Hashable {
    /// The quantization axis (non-negative; ignored for per-tensor).
    public var axis: Int
    /// Block length along the axis for blocked quantization; 0 otherwise.
    public var blockSize: Int

    /// Creates a granularity.
    public init(axis: Int, blockSize: Int = 0) {
        self.axis = axis
        self.blockSize = blockSize
    }
}

/// `QuantizeLinear` / `DequantizeLinear` with per-tensor, per-axis or blocked scales.
public enum QuantizeKernels {
    /// `output = saturate(round_half_even(x / scale) + zeroPoint)`; the output dtype
    /// (`int8`, `uint8`, `int16`, `uint16`) is `output`'s.
    ///
    /// - Throws: `kernelMissing` for another output dtype or a non-float, non-int32 `x`;
    ///   `shapeMismatch` when the scale does not fit `x` for the granularity.
    public static func quantize(
        _ x: Tensor, scale: Tensor, zeroPoint: Tensor?, granularity: QuantizationGranularity,
        into output: inout Tensor, threads: Int = 1
    ) throws {
        let index = try ScaleIndex(x.shape, scale.shape, granularity)
        let scales = try CastKernels.casted(scale, to: .float32).scalars(as: Float.self)
        let zeros = try zeroPoint.map { try CastKernels.casted($0, to: .int64).scalars(as: Int64.self) }
        if let zeros, zeros.count != scales.count {
            throw KilnError(.shapeMismatch, "zero point has \(zeros.count) elements, scale \(scales.count)")
        }
        // int32 inputs divide in float64 as numpy does; floats in float32.
        let values: Tensor
        switch x.dtype {
        case .float32, .float64: values = x
        case .float16: values = try Float16Bridge.widened(x)
        case .int32: values = try CastKernels.casted(x, to: .float64)
        default: throw KilnError(.kernelMissing, "QuantizeLinear: no \(x.dtype) input kernel")
        }
        func run<T: FixedWidthInteger & TensorElement>(_ type: T.Type) {
            output.withUnsafeMutableBufferPointer(as: T.self) { y in
                func quantized(_ ratio: Double, _ element: Int) -> T {
                    let rounded = ratio.rounded(.toNearestOrEven)
                    // np.rint(...).astype(int32): NaN and overflow give INT32_MIN on x86.
                    var level: Int64 =
                        rounded.isNaN || rounded >= 2_147_483_648 || rounded < -2_147_483_648
                        ? Int64(Int32.min) : Int64(rounded)
                    if let zeros { level += zeros[element] }
                    return T(clamping: level)
                }
                if values.dtype == .float32 {
                    values.withUnsafeBufferPointer(as: Float.self) { source in
                        index.forEach { offset, element in
                            y[offset] = quantized(Double(source[offset] / scales[element]), element)
                        }
                    }
                } else {
                    values.withUnsafeBufferPointer(as: Double.self) { source in
                        index.forEach { offset, element in
                            y[offset] = quantized(source[offset] / Double(scales[element]), element)
                        }
                    }
                }
            }
        }
        switch output.dtype {
        case .int8: run(Int8.self)
        case .uint8: run(UInt8.self)
        case .int16: run(Int16.self)
        case .uint16: run(UInt16.self)
        default: throw KilnError(.kernelMissing, "QuantizeLinear: no \(output.dtype) output kernel")
        }
    }

    /// `output = (x - zeroPoint) * scale`, computed in `float32` and stored in `output`'s
    /// dtype (`float32`, `float16` or `float64`).
    ///
    /// - Throws: `shapeMismatch` when the scale does not fit `x` for the granularity;
    ///   `kernelMissing` for a float `x`.
    public static func dequantize(
        _ x: Tensor, scale: Tensor, zeroPoint: Tensor?, granularity: QuantizationGranularity,
        into output: inout Tensor, threads: Int = 1
    ) throws {
        guard x.dtype.isInteger else {
            throw KilnError(.kernelMissing, "DequantizeLinear: no \(x.dtype) input kernel")
        }
        let index = try ScaleIndex(x.shape, scale.shape, granularity)
        let scales = try CastKernels.casted(scale, to: .float32).scalars(as: Float.self)
        let zeros = try zeroPoint.map { try CastKernels.casted($0, to: .float32).scalars(as: Float.self) }
        if let zeros, zeros.count != scales.count {
            throw KilnError(.shapeMismatch, "zero point has \(zeros.count) elements, scale \(scales.count)")
        }
        let values = try CastKernels.casted(x, to: .float32, threads: threads)
        var result = Tensor(zeros: x.shape, dtype: .float32)
        values.withUnsafeBufferPointer(as: Float.self) { source in
            result.withUnsafeMutableBufferPointer(as: Float.self) { y in
                if let zeros {
                    index.forEach { offset, element in y[offset] = (source[offset] - zeros[element]) * scales[element] }
                } else {
                    index.forEach { offset, element in y[offset] = source[offset] * scales[element] }
                }
            }
        }
        try CastKernels.cast(result, into: &output, threads: threads)
    }
}

/// Which scale element each element of `x` uses.
private struct ScaleIndex {
    let outer: Int
    let channels: Int
    let inner: Int
    /// 0: per-tensor, 1: per-axis, else the block size.
    let mode: Int
    let blockSize: Int
    let scaleChannels: Int

    init(_ shape: [Int], _ scaleShape: [Int], _ granularity: QuantizationGranularity) throws {
        let scaleCount = Tensor.elementCount(scaleShape)
        let axis = granularity.axis
        if shape.isEmpty || (granularity.blockSize == 0 && scaleCount == 1) {
            guard scaleCount == 1 else {
                throw KilnError(.shapeMismatch, "scale of shape \(scaleShape) for a scalar input")
            }
            (outer, channels, inner, mode, blockSize, scaleChannels) = (Tensor.elementCount(shape), 1, 1, 0, 0, 1)
            return
        }
        guard axis >= 0, axis < shape.count else {
            throw KilnError(.shapeMismatch, "axis \(axis) out of range for shape \(shape)")
        }
        outer = shape[..<axis].reduce(1, *)
        channels = shape[axis]
        inner = shape[(axis + 1)...].reduce(1, *)
        if granularity.blockSize == 0 {
            guard scaleShape.count == 1, scaleCount == channels else {
                throw KilnError(
                    .shapeMismatch, "per-axis scale of shape \(scaleShape) for axis \(axis) of shape \(shape)")
            }
            (mode, blockSize, scaleChannels) = (1, 0, channels)
        } else {
            let blocks = (channels + granularity.blockSize - 1) / granularity.blockSize
            var expected = shape
            expected[axis] = blocks
            guard scaleShape == expected else {
                throw KilnError(
                    .shapeMismatch,
                    "blocked scale of shape \(scaleShape) for shape \(shape), axis \(axis), block \(granularity.blockSize); expected \(expected)")
            }
            (mode, blockSize, scaleChannels) = (2, granularity.blockSize, blocks)
        }
    }

    /// Calls `body(elementOffset, scaleIndex)` for every element of `x` in order.
    @inline(__always)
    func forEach(_ body: (Int, Int) -> Void) {
        var offset = 0
        for o in 0..<outer {
            for c in 0..<channels {
                let element: Int
                switch mode {
                case 0: element = 0
                case 1: element = c
                default: element = (o * scaleChannels + c / blockSize) * inner
                }
                for i in 0..<inner {
                    body(offset, mode == 2 ? element + i : element)
                    offset += 1
                }
            }
        }
    }
}
