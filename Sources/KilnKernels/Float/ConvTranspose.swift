import KilnCore

/// ONNX `ConvTranspose` over `N × C × spatial…` tensors (1 to 3 spatial axes for float32).
///
/// float32: per image and group, one ``Gemm`` computes `Wᵀ·X` (every kernel tap's
/// contribution from every input pixel), then col2im scatters those columns into the
/// output. Other float types use ``ReferenceConvolution``.
package enum TransposedConvolution {
    /// The output shape `[N, M, output…]`, where `M = weight[1] · group`.
    ///
    /// - Throws: `shapeMismatch` when input, weight, group and bias disagree.
    package static func outputShape(
        input: [Int], weight: [Int], bias: [Int]?, group: Int, geometry: WindowGeometry
    ) throws -> [Int] {
        try validate(input: input, weight: weight, bias: bias, group: group, geometry: geometry)
        return [input[0], weight[1] * group] + geometry.output
    }

    static func validate(input: [Int], weight: [Int], bias: [Int]?, group: Int, geometry: WindowGeometry) throws {
        guard input.count == geometry.rank + 2, weight.count == input.count else {
            throw KilnError(.shapeMismatch, "ConvTranspose input \(input) and weight \(weight) must both have rank \(geometry.rank + 2)")
        }
        guard group > 0, input[1] % group == 0, weight[0] == input[1] else {
            throw KilnError(.shapeMismatch, "ConvTranspose with group \(group): input channels \(input[1]) and weight \(weight) disagree")
        }
        guard Array(weight.dropFirst(2)) == geometry.kernel else {
            throw KilnError(.shapeMismatch, "ConvTranspose kernel_shape \(geometry.kernel) differs from weight \(weight)")
        }
        if let bias, bias != [weight[1] * group] {
            throw KilnError(.shapeMismatch, "ConvTranspose bias \(bias) must have shape [\(weight[1] * group)]")
        }
    }

    /// `output = convTranspose(input, weight) + bias`.
    ///
    /// - Throws: `shapeMismatch`, `kernelMissing` for a dtype without a kernel or more
    ///   than three spatial axes.
    package static func convTranspose(
        input: Tensor, weight: Tensor, bias: Tensor?, group: Int, geometry: WindowGeometry,
        output: inout Tensor, threads: Int
    ) throws {
        try validate(input: input.shape, weight: weight.shape, bias: bias?.shape, group: group, geometry: geometry)
        guard weight.dtype == input.dtype, bias.map({ $0.dtype == input.dtype }) ?? true else {
            throw KilnError(.shapeMismatch, "ConvTranspose operands have different dtypes")
        }
        switch input.dtype {
        case .float32:
            guard geometry.rank <= 3 else {
                throw KilnError(.kernelMissing, "[ConvTranspose] no kernel for \(geometry.rank) spatial axes")
            }
            convTransposeFloat(input, weight, bias, group, geometry, &output, threads: threads)
        case .float64:
            ReferenceConvolution.convTranspose(input, weight, bias, group: group, geometry: geometry, output: &output, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16:
            ReferenceConvolution.convTranspose(input, weight, bias, group: group, geometry: geometry, output: &output, as: Float16.self)
        #endif
        default:
            throw KilnError(.kernelMissing, "[ConvTranspose] no \(input.dtype) kernel")
        }
    }

    private static func convTransposeFloat(
        _ input: Tensor, _ weight: Tensor, _ bias: Tensor?, _ group: Int, _ geometry: WindowGeometry,
        _ output: inout Tensor, threads: Int
    ) {
        let (batch, channels) = (input.shape[0], input.shape[1])
        let groupOutChannels = weight.shape[1]
        let outChannels = groupOutChannels * group
        let groupChannels = channels / group
        let inputPixels = Tensor.elementCount(geometry.input)
        let outputPixels = Tensor.elementCount(geometry.output)
        let rows = groupOutChannels * Tensor.elementCount(geometry.kernel)
        let window = geometry.padded3D
        let biasValues = bias?.scalars(as: Float.self)
        let columns = UnsafeMutablePointer<Float>.allocate(capacity: max(1, rows * inputPixels))
        defer { columns.deallocate() }
        input.withUnsafeBufferPointer(as: Float.self) { x in
            weight.withUnsafeBufferPointer(as: Float.self) { w in
                output.withUnsafeMutableBufferPointer(as: Float.self) { y in
                    guard let xBase = x.baseAddress, let wBase = w.baseAddress, let yBase = y.baseAddress else { return }
                    for image in 0..<batch {
                        for g in 0..<group {
                            let source = xBase + (image * channels + g * groupChannels) * inputPixels
                            let target = yBase + (image * outChannels + g * groupOutChannels) * outputPixels
                            for m in 0..<groupOutChannels {
                                (target + m * outputPixels).initialize(
                                    repeating: biasValues?[g * groupOutChannels + m] ?? 0, count: outputPixels)
                            }
                            // columns[Mg·K × P] = W_gᵀ · X_g, W_g being [Cg × Mg·K].
                            Gemm.multiply(
                                m: rows, n: inputPixels, k: groupChannels, alpha: 1,
                                a: wBase + g * groupChannels * rows, lda: rows, transA: true,
                                b: source, ldb: inputPixels, transB: false,
                                beta: 0, c: columns, ldc: inputPixels, threads: threads)
                            col2im(UnsafePointer(columns), into: target, channels: groupOutChannels, window: window, threads: threads)
                        }
                    }
                }
            }
        }
    }

    /// Adds column row `(m, kd, kh, kw)`, column `(id, ih, iw)` into output pixel
    /// `(m, id·s + kd·d − pad, …)` when that lies inside the output. Threads split the
    /// output channels, so no two threads write one pixel.
    private static func col2im(
        _ columns: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, channels: Int,
        window: WindowGeometry, threads: Int
    ) {
        // Here `window.input` is the ConvTranspose input (the column extents) and
        // `window.output` the image being written.
        let (inD, inH, inW) = (window.input[0], window.input[1], window.input[2])
        let (kD, kH, kW) = (window.kernel[0], window.kernel[1], window.kernel[2])
        let (outD, outH, outW) = (window.output[0], window.output[1], window.output[2])
        let (sD, sH, sW) = (window.strides[0], window.strides[1], window.strides[2])
        let (dD, dH, dW) = (window.dilations[0], window.dilations[1], window.dilations[2])
        let (pD, pH, pW) = (window.padsBegin[0], window.padsBegin[1], window.padsBegin[2])
        let inputPixels = inD * inH * inW
        let taps = kD * kH * kW
        Parallel.forEach(channels, threads: threads) { range in
            for m in range {
                let plane = target + m * outD * outH * outW
                for tap in 0..<taps {
                    let kw = tap % kW
                    let kh = (tap / kW) % kH
                    let kd = tap / (kW * kH)
                    var column = columns + (m * taps + tap) * inputPixels
                    let offsetW = kw * dW - pW
                    // Input columns that land inside the output row: [lowW, highW).
                    let lowW = min(inW, offsetW >= 0 ? 0 : (-offsetW + sW - 1) / sW)
                    let highW = max(lowW, min(inW, outW - offsetW > 0 ? (outW - offsetW + sW - 1) / sW : 0))
                    for id in 0..<inD {
                        let od = id * sD + kd * dD - pD
                        for ih in 0..<inH {
                            let oh = ih * sH + kh * dH - pH
                            if od >= 0, od < outD, oh >= 0, oh < outH {
                                let line = plane + (od * outH + oh) * outW + offsetW
                                for iw in lowW..<highW { line[iw * sW] += column[iw] }
                            }
                            column += inW
                        }
                    }
                }
            }
        }
    }
}
