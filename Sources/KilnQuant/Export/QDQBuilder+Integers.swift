import KilnCore

extension QDQBuilder {
    /// `tensor` quantized as `quantization` states: `saturate(round(x / scale) + zp)`
    /// (`FixedPoint.quantize` for fix positions), per channel along `axis` when the entry
    /// has one scale per channel.
    ///
    /// - Throws: `invalidModel` when a per-channel entry's scale count is not the size
    ///   of its axis.
    static func quantize(_ tensor: Tensor, _ quantization: TensorQuantization, name: String) throws -> Tensor {
        let values = tensor.scalars(as: Float.self)
        var channelOf: (Int) -> Int = { _ in 0 }
        if quantization.scales.count > 1 {
            guard let axis = quantization.axis, tensor.rank > 0 else {
                throw KilnError(
                    .invalidModel, "quantization of '\(name)' has \(quantization.scales.count) scales but no axis")
            }
            let normalized = axis < 0 ? axis + tensor.rank : axis
            guard (0..<tensor.rank).contains(normalized), tensor.shape[normalized] == quantization.scales.count else {
                throw KilnError(
                    .invalidModel,
                    "quantization of '\(name)' has \(quantization.scales.count) scales on axis \(axis) of shape \(tensor.shape)"
                )
            }
            let inner = tensor.shape[(normalized + 1)...].reduce(1, *)
            let channels = tensor.shape[normalized]
            channelOf = { ($0 / inner) % channels }
        }
        let integers = values.indices.map { index in
            quantizedValue(values[index], quantization, channel: channelOf(index))
        }
        return try integerTensor(integers, shape: tensor.shape, dtype: quantization.dtype)
    }

    /// One value quantized: the fix-position path is ``FixedPoint/quantize(_:fixPosition:mode:range:)``.
    static func quantizedValue(_ value: Float, _ quantization: TensorQuantization, channel: Int) -> Int {
        let range = quantization.integerRange
        if let position = quantization.fixPosition {
            return FixedPoint.quantize(value, fixPosition: position, mode: quantization.roundMode, range: range)
        }
        let scale = quantization.scales[min(channel, quantization.scales.count - 1)]
        let zeroPoint = quantization.zeroPoints[min(channel, quantization.zeroPoints.count - 1)]
        let ratio = Double(value / scale)  // in float, as QuantizeLinear divides
        guard ratio.isFinite else { return ratio.isNaN ? zeroPoint : ratio > 0 ? range.upperBound : range.lowerBound }
        let rounded = quantization.roundMode.round(ratio) + Double(zeroPoint)
        return Int(min(max(rounded, Double(range.lowerBound)), Double(range.upperBound)))
    }

    /// Integers as a tensor of an integer dtype.
    static func integerTensor(_ values: [Int], shape: [Int], dtype: DType) throws -> Tensor {
        switch dtype {
        case .int8: return Tensor(shape: shape, scalars: values.map { Int8(truncatingIfNeeded: $0) })
        case .uint8: return Tensor(shape: shape, scalars: values.map { UInt8(truncatingIfNeeded: $0) })
        case .int16: return Tensor(shape: shape, scalars: values.map { Int16(truncatingIfNeeded: $0) })
        case .uint16: return Tensor(shape: shape, scalars: values.map { UInt16(truncatingIfNeeded: $0) })
        case .int32: return Tensor(shape: shape, scalars: values.map { Int32(truncatingIfNeeded: $0) })
        default: throw KilnError(.invalidModel, "quantized type \(dtype) is not an integer type QDQ can store")
        }
    }
}
