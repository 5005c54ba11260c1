import CKilnKernels
import KilnCore

/// ONNX pooling over `N × C × spatial…` tensors (1 to 3 spatial axes): MaxPool (with
/// optional argmax indices), AveragePool, GlobalMaxPool and GlobalAveragePool. Planes
/// (`n, c`) are split over threads.
package enum Pooling {
    /// `output[n, c, o…]` = the largest input in the window (taps outside the input are
    /// ignored; a window with no tap inside gives 0 and index -1). `indices`, when given
    /// (int64, the output's shape), receives each maximum's flat input index: row-major,
    /// or column-major over the spatial axes with `storageOrder == 1`.
    ///
    /// - Throws: `kernelMissing` for an unsupported dtype or more than three spatial axes.
    package static func maxPool(
        input: Tensor, geometry: WindowGeometry, storageOrder: Int, output: inout Tensor,
        indices: inout Tensor?, threads: Int
    ) throws {
        guard geometry.rank <= 3 else {
            throw KilnError(.kernelMissing, "[MaxPool] no kernel for \(geometry.rank) spatial axes")
        }
        switch input.dtype {
        case .float32 where indices == nil && geometry.rank == 2:
            maxPoolNative(input, geometry, &output, threads: threads)
        case .float32: maxPool(input, geometry, storageOrder, &output, &indices, threads, as: Float.self)
        case .float64: maxPool(input, geometry, storageOrder, &output, &indices, threads, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: maxPool(input, geometry, storageOrder, &output, &indices, threads, as: Float16.self)
        #endif
        case .int8: maxPool(input, geometry, storageOrder, &output, &indices, threads, as: Int8.self)
        case .uint8: maxPool(input, geometry, storageOrder, &output, &indices, threads, as: UInt8.self)
        default: throw KilnError(.kernelMissing, "[MaxPool] no \(input.dtype) kernel")
        }
    }

    /// `output[n, c, o…]` = the mean of the window's taps inside the input; with
    /// `countIncludePad` the divisor also counts taps in the explicit padding (but not
    /// those past it that `ceil_mode` adds).
    ///
    /// - Throws: `kernelMissing` for an unsupported dtype or more than three spatial axes.
    package static func averagePool(
        input: Tensor, geometry: WindowGeometry, countIncludePad: Bool, output: inout Tensor, threads: Int
    ) throws {
        guard geometry.rank <= 3 else {
            throw KilnError(.kernelMissing, "[AveragePool] no kernel for \(geometry.rank) spatial axes")
        }
        switch input.dtype {
        case .float32: averagePool(input, geometry, countIncludePad, &output, threads, as: Float.self)
        case .float64: averagePool(input, geometry, countIncludePad, &output, threads, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: averagePool(input, geometry, countIncludePad, &output, threads, as: Float16.self)
        #endif
        default: throw KilnError(.kernelMissing, "[AveragePool] no \(input.dtype) kernel")
        }
    }

    /// `output[n, c, 1…]` = the maximum (`isMax`) or mean of each plane.
    ///
    /// - Throws: `kernelMissing` for an unsupported dtype.
    package static func globalPool(input: Tensor, isMax: Bool, output: inout Tensor) throws {
        switch input.dtype {
        case .float32: globalPool(input, isMax, &output, as: Float.self)
        case .float64: globalPool(input, isMax, &output, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: globalPool(input, isMax, &output, as: Float16.self)
        #endif
        default: throw KilnError(.kernelMissing, "[\(isMax ? "GlobalMaxPool" : "GlobalAveragePool")] no \(input.dtype) kernel")
        }
    }

    /// The taps `k` of one axis with `low <= start + k·dilation < high`, as `lower..<upper`.
    @inline(__always)
    private static func taps(start: Int, low: Int, high: Int, kernel: Int, dilation: Int) -> Range<Int> {
        let lower = start >= low ? 0 : (low - start + dilation - 1) / dilation
        let upper = high - start > 0 ? min(kernel, (high - start + dilation - 1) / dilation) : 0
        return lower..<max(lower, upper)
    }

    /// float32 2-D max pooling without indices: the native plane kernel, planes over threads.
    private static func maxPoolNative(_ input: Tensor, _ geometry: WindowGeometry, _ output: inout Tensor, threads: Int) {
        let planes = input.shape[0] * input.shape[1]
        let (inH, inW) = (geometry.input[0], geometry.input[1])
        let (outH, outW) = (geometry.output[0], geometry.output[1])
        let isa = NativeKernels.activeISA.rawValue
        input.withUnsafeBufferPointer(as: Float.self) { x in
            output.withUnsafeMutableBufferPointer(as: Float.self) { y in
                guard let xBase = x.baseAddress, let yBase = y.baseAddress else { return }
                Parallel.forEach(planes, threads: threads, grain: max(1, 4096 / max(1, outH * outW))) { range in
                    for plane in range {
                        ckiln_maxpool_plane(
                            isa, xBase + plane * inH * inW, inH, inW, geometry.kernel[0], geometry.kernel[1],
                            geometry.strides[0], geometry.strides[1], geometry.dilations[0], geometry.dilations[1],
                            geometry.padsBegin[0], geometry.padsBegin[1], yBase + plane * outH * outW, outH, outW)
                    }
                }
            }
        }
    }

    private static func maxPool<T: Comparable & Numeric & TensorElement>(
        _ input: Tensor, _ geometry: WindowGeometry, _ storageOrder: Int, _ output: inout Tensor,
        _ indices: inout Tensor?, _ threads: Int, as type: T.Type
    ) {
        let window = geometry.padded3D
        let planes = input.shape[0] * input.shape[1]
        let (inD, inH, inW) = (window.input[0], window.input[1], window.input[2])
        let (outD, outH, outW) = (window.output[0], window.output[1], window.output[2])
        let inputPixels = inD * inH * inW
        let outputPixels = outD * outH * outW
        let wantsIndices = indices != nil
        var argmax = [Int64](repeating: -1, count: wantsIndices ? planes * outputPixels : 0)
        input.withUnsafeBufferPointer(as: T.self) { x in
            output.withUnsafeMutableBufferPointer(as: T.self) { y in
                argmax.withUnsafeMutableBufferPointer { best in
                    guard let xBase = x.baseAddress, let yBase = y.baseAddress else { return }
                    let bestBase = wantsIndices ? best.baseAddress : nil
                    Parallel.forEach(planes, threads: threads) { range in
                        for plane in range {
                            let source = xBase + plane * inputPixels
                            var flat = plane * outputPixels
                            for od in 0..<outD {
                                let startD = od * window.strides[0] - window.padsBegin[0]
                                let rangeD = taps(start: startD, low: 0, high: inD, kernel: window.kernel[0], dilation: window.dilations[0])
                                for oh in 0..<outH {
                                    let startH = oh * window.strides[1] - window.padsBegin[1]
                                    let rangeH = taps(start: startH, low: 0, high: inH, kernel: window.kernel[1], dilation: window.dilations[1])
                                    for ow in 0..<outW {
                                        let startW = ow * window.strides[2] - window.padsBegin[2]
                                        let rangeW = taps(start: startW, low: 0, high: inW, kernel: window.kernel[2], dilation: window.dilations[2])
                                        var value: T = 0
                                        var position = -1
                                        for kd in rangeD {
                                            let d = startD + kd * window.dilations[0]
                                            for kh in rangeH {
                                                let h = startH + kh * window.dilations[1]
                                                let line = (d * inH + h) * inW
                                                for kw in rangeW {
                                                    let offset = line + startW + kw * window.dilations[2]
                                                    let candidate = source[offset]
                                                    if position < 0 || candidate > value {
                                                        value = candidate
                                                        position = offset
                                                    }
                                                }
                                            }
                                        }
                                        yBase[flat] = value
                                        if let bestBase, position >= 0 {
                                            bestBase[flat] = Int64(plane * inputPixels + spatialIndex(
                                                position, inD: inD, inH: inH, inW: inW, columnMajor: storageOrder == 1,
                                                rank: geometry.rank))
                                        }
                                        flat += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let shape = indices?.shape {
            indices = Tensor(shape: shape, scalars: argmax)
        }
    }

    /// A row-major offset within a plane, re-expressed column-major over the op's spatial
    /// axes when asked.
    private static func spatialIndex(_ offset: Int, inD: Int, inH: Int, inW: Int, columnMajor: Bool, rank: Int) -> Int {
        guard columnMajor else { return offset }
        let w = offset % inW
        let h = (offset / inW) % inH
        let d = offset / (inW * inH)
        switch rank {
        case 1: return w
        case 2: return h + w * inH
        default: return d + h * inD + w * inD * inH
        }
    }

    private static func averagePool<T: BinaryFloatingPoint & TensorElement>(
        _ input: Tensor, _ geometry: WindowGeometry, _ countIncludePad: Bool, _ output: inout Tensor,
        _ threads: Int, as type: T.Type
    ) {
        let window = geometry.padded3D
        let planes = input.shape[0] * input.shape[1]
        let (inD, inH, inW) = (window.input[0], window.input[1], window.input[2])
        let (outD, outH, outW) = (window.output[0], window.output[1], window.output[2])
        let inputPixels = inD * inH * inW
        let outputPixels = outD * outH * outW
        input.withUnsafeBufferPointer(as: T.self) { x in
            output.withUnsafeMutableBufferPointer(as: T.self) { y in
                guard let xBase = x.baseAddress, let yBase = y.baseAddress else { return }
                Parallel.forEach(planes, threads: threads) { range in
                    for plane in range {
                        let source = xBase + plane * inputPixels
                        var flat = plane * outputPixels
                        for od in 0..<outD {
                            let startD = od * window.strides[0] - window.padsBegin[0]
                            let rangeD = taps(start: startD, low: 0, high: inD, kernel: window.kernel[0], dilation: window.dilations[0])
                            let paddedD = taps(start: startD, low: -window.padsBegin[0], high: inD + window.padsEnd[0], kernel: window.kernel[0], dilation: window.dilations[0])
                            for oh in 0..<outH {
                                let startH = oh * window.strides[1] - window.padsBegin[1]
                                let rangeH = taps(start: startH, low: 0, high: inH, kernel: window.kernel[1], dilation: window.dilations[1])
                                let paddedH = taps(start: startH, low: -window.padsBegin[1], high: inH + window.padsEnd[1], kernel: window.kernel[1], dilation: window.dilations[1])
                                for ow in 0..<outW {
                                    let startW = ow * window.strides[2] - window.padsBegin[2]
                                    let rangeW = taps(start: startW, low: 0, high: inW, kernel: window.kernel[2], dilation: window.dilations[2])
                                    let paddedW = taps(start: startW, low: -window.padsBegin[2], high: inW + window.padsEnd[2], kernel: window.kernel[2], dilation: window.dilations[2])
                                    var sum: T = 0
                                    for kd in rangeD {
                                        let d = startD + kd * window.dilations[0]
                                        for kh in rangeH {
                                            let line = source + ((d * inH) + startH + kh * window.dilations[1]) * inW + startW
                                            for kw in rangeW { sum += line[kw * window.dilations[2]] }
                                        }
                                    }
                                    let count = countIncludePad
                                        ? paddedD.count * paddedH.count * paddedW.count
                                        : rangeD.count * rangeH.count * rangeW.count
                                    yBase[flat] = count > 0 ? sum / T(count) : 0
                                    flat += 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static func globalPool<T: BinaryFloatingPoint & TensorElement>(
        _ input: Tensor, _ isMax: Bool, _ output: inout Tensor, as type: T.Type
    ) {
        let planes = input.rank >= 2 ? input.shape[0] * input.shape[1] : 1
        let pixels = planes > 0 ? input.count / planes : 0
        input.withUnsafeBufferPointer(as: T.self) { x in
            output.withUnsafeMutableBufferPointer(as: T.self) { y in
                for plane in 0..<planes {
                    let values = x[(plane * pixels)..<((plane + 1) * pixels)]
                    if isMax {
                        y[plane] = values.reduce(values.first ?? 0) { $1 > $0 || $1.isNaN ? $1 : $0 }
                    } else {
                        y[plane] = pixels > 0 ? values.reduce(0, +) / T(pixels) : 0
                    }
                }
            }
        }
    }
}
