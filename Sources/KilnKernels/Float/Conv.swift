import CKilnKernels
import KilnCore

/// ONNX `Conv` over `N × C × spatial…` tensors (1 to 3 spatial axes).
///
/// float32: im2col (skipped for 1×1, stride 1, unpadded kernels, whose input already is the
/// column matrix) followed by the blocked ``Gemm`` (native AVX2/FMA when available) with bias
/// and activation fused into its epilogue, one product per image and group; depthwise
/// convolutions (one input channel per group) of up to two spatial axes use the native
/// depthwise kernel instead, and ungrouped 2-D convolutions on AVX-512 the direct kernels:
/// ``BlockedConvolution`` for many output channels, ``DirectConvolution`` for few. Other
/// float types use ``ReferenceConvolution``.
package enum Convolution {
    /// The output shape `[N, M, output…]` of a convolution.
    ///
    /// - Throws: `shapeMismatch` when input, weight, group and bias disagree.
    package static func outputShape(
        input: [Int], weight: [Int], bias: [Int]?, group: Int, geometry: WindowGeometry
    ) throws -> [Int] {
        try validate(input: input, weight: weight, bias: bias, group: group, geometry: geometry)
        return [input[0], weight[0]] + geometry.output
    }

    static func validate(input: [Int], weight: [Int], bias: [Int]?, group: Int, geometry: WindowGeometry) throws {
        guard input.count == geometry.rank + 2, weight.count == input.count else {
            throw KilnError(.shapeMismatch, "Conv input \(input) and weight \(weight) must both have rank \(geometry.rank + 2)")
        }
        guard group > 0, input[1] % group == 0, weight[0] % group == 0, weight[1] * group == input[1] else {
            throw KilnError(.shapeMismatch, "Conv with group \(group): input channels \(input[1]) and weight \(weight) disagree")
        }
        guard Array(weight.dropFirst(2)) == geometry.kernel else {
            throw KilnError(.shapeMismatch, "Conv kernel_shape \(geometry.kernel) differs from weight \(weight)")
        }
        if let bias, bias != [weight[0]] {
            throw KilnError(.shapeMismatch, "Conv bias \(bias) must have shape [\(weight[0])]")
        }
    }

    /// `output = clamp(conv(input, weight) + bias)`; `output` has ``outputShape(input:weight:bias:group:geometry:)``.
    ///
    /// `lower`/`upper` fuse a following ReLU (`0`, `infinity`) or Clip into the kernel's last
    /// write (float32 only). With `accumulate` (float32 only) the convolution is added to the
    /// values `output` holds — a residual `Add` fused as `clamp(conv + bias + output)`.
    ///
    /// - Throws: `shapeMismatch`, `kernelMissing` for a dtype without a kernel or more
    ///   than three spatial axes.
    package static func conv(
        input: Tensor, weight: Tensor, bias: Tensor?, group: Int, geometry: WindowGeometry,
        output: inout Tensor, lower: Float = -.infinity, upper: Float = .infinity, accumulate: Bool = false, threads: Int
    ) throws {
        try validate(input: input.shape, weight: weight.shape, bias: bias?.shape, group: group, geometry: geometry)
        guard weight.dtype == input.dtype, bias.map({ $0.dtype == input.dtype }) ?? true else {
            throw KilnError(.shapeMismatch, "Conv operands have different dtypes")
        }
        guard input.dtype == .float32 || (lower == -.infinity && upper == .infinity && !accumulate) else {
            throw KilnError(.kernelMissing, "[Conv] fused clamp and sum only for float32, not \(input.dtype)")
        }
        switch input.dtype {
        case .float32:
            guard geometry.rank <= 3 else {
                throw KilnError(.kernelMissing, "[Conv] no kernel for \(geometry.rank) spatial axes")
            }
            convFloat(
                input, weight, packed: nil, bias, group, geometry, &output, clamp: (lower, upper), accumulate: accumulate,
                threads: threads)
            return
        case .float64:
            ReferenceConvolution.conv(input, weight, bias, group: group, geometry: geometry, output: &output, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16:
            ReferenceConvolution.conv(input, weight, bias, group: group, geometry: geometry, output: &output, as: Float16.self)
        #endif
        default:
            throw KilnError(.kernelMissing, "[Conv] no \(input.dtype) kernel")
        }
    }

    /// The float32 kernel a convolution takes: it depends only on the shapes and this CPU's
    /// instruction set, so every executor (and a prepared step) computes the same bits.
    enum FloatPath: Equatable {
        case depthwise
        case blocked
        case direct
        case transposedProduct
        /// im2col (none when `pointwise`: 1×1, stride 1, unpadded) and a GEMM per group.
        case gemm(pointwise: Bool)
    }

    /// The path of a convolution with `channels` input channels, a weight of shape `weight`
    /// and `group` groups over `geometry`, in order of preference.
    static func floatPath(channels: Int, weight: [Int], group: Int, geometry: WindowGeometry) -> FloatPath {
        let window = geometry.padded3D
        if group == channels && weight[1] == 1 && geometry.rank <= 2 { return .depthwise }
        if BlockedConvolution.runs(weight: weight, group: group, window: window) { return .blocked }
        if DirectConvolution.runs(weight: weight, group: group, window: window) { return .direct }
        let depth = weight.dropFirst().reduce(1, *)
        if TransposedProduct.runs(pixels: Tensor.elementCount(geometry.output), outChannels: weight[0] / group, depth: depth) {
            return .transposedProduct
        }
        return .gemm(pointwise: isPointwise(window))
    }

    /// Whether a convolution over `window` (any geometry, or its 3-D padded form) is pointwise:
    /// 1×1, stride 1, unpadded — its input already is the product's operand.
    static func isPointwise(_ window: WindowGeometry) -> Bool {
        window.kernel.allSatisfy { $0 == 1 } && window.strides.allSatisfy { $0 == 1 }
            && window.padsBegin.allSatisfy { $0 == 0 } && window.padsEnd.allSatisfy { $0 == 0 }
    }

    /// float32 convolution; `weights`, when given, replace the weight values in the layout
    /// of the path taken (which depends only on the shapes: a layout packed for other shapes
    /// is ignored). With `accumulate`, the result is added to `output`'s values before the
    /// clamp.
    static func convFloat(
        _ input: Tensor, _ weight: Tensor, packed weights: PackedWeights?, _ bias: Tensor?, _ group: Int,
        _ geometry: WindowGeometry, _ output: inout Tensor, clamp: (lower: Float, upper: Float), accumulate: Bool = false,
        threads: Int
    ) {
        let batch = input.shape[0]
        let channels = input.shape[1]
        let outChannels = weight.shape[0]
        let window = geometry.padded3D
        let path = floatPath(channels: channels, weight: weight.shape, group: group, geometry: geometry)
        if path == .depthwise {
            guard accumulate else {
                DepthwiseConvolution.run(input, weight, bias, window, &output, clamp: clamp, threads: threads)
                return
            }
            // The depthwise kernel has no summand: convolve aside, then add and clamp.
            var product = Tensor(zeros: output.shape, dtype: .float32)
            DepthwiseConvolution.run(input, weight, bias, window, &product, clamp: (-.infinity, .infinity), threads: threads)
            product.withUnsafeBufferPointer(as: Float.self) { p in
                output.withUnsafeMutableBufferPointer(as: Float.self) { y in
                    for i in y.indices { y[i] = min(clamp.upper, max(clamp.lower, y[i] + p[i])) }
                }
            }
            return
        }
        if path == .direct || path == .blocked {
            let isBlocked = path == .blocked
            let weights = isBlocked
                ? weights?.blocked ?? BlockedConvolution.pack(weight) : weights?.direct ?? DirectConvolution.pack(weight)
            let run = isBlocked ? BlockedConvolution.run : DirectConvolution.run
            let biasValues = bias?.scalars(as: Float.self) ?? []
            input.withUnsafeBufferPointer(as: Float.self) { x in
                output.withUnsafeMutableBufferPointer(as: Float.self) { y in
                    weights.withUnsafeBufferPointer { w in
                        guard let xBase = x.baseAddress, let yBase = y.baseAddress, let wBase = w.baseAddress else { return }
                        biasValues.withUnsafeBufferPointer { b in
                            run(
                                xBase, channels, batch, wBase, outChannels, b.isEmpty ? nil : b.baseAddress, window, yBase,
                                clamp, accumulate, threads)
                        }
                    }
                }
            }
            return
        }
        let groupChannels = channels / group
        let groupOutChannels = outChannels / group
        let outputPixels = Tensor.elementCount(geometry.output)
        let kernelSize = Tensor.elementCount(geometry.kernel)
        let depth = groupChannels * kernelSize
        if path == .transposedProduct {
            TransposedProduct.conv(
                input, weight, packed: weights?.transposed, bias, group, window, &output, clamp: clamp,
                accumulate: accumulate, threads: threads)
            return
        }
        let isPointwise = path == .gemm(pointwise: true)
        let packed = weights.flatMap { $0.groups.isEmpty ? nil : $0.groups }
        // With packed weights and two spatial axes, im2col writes the GEMM's packed B directly.
        let packsColumns = packed != nil && !isPointwise && NativeKernels.activeISA >= .avx2
            && window.kernel[0] == 1 && window.input[0] == 1 && window.output[0] == 1 && window.padsBegin[0] == 0
        let columnCount = isPointwise ? 1
            : packsColumns ? Int(ckiln_sgemm_packed_b_count(depth, outputPixels)) : depth * outputPixels
        let columns = UnsafeMutablePointer<Float>.allocate(capacity: columnCount)
        defer { columns.deallocate() }
        forEachGroup(input, weight, bias, group: group, window: window, output: &output) { g, source, weights, groupBias, target in
            // Bias (per output channel = row of C) and activation fused into the GEMM.
            let epilogue = GemmEpilogue(bias: groupBias.map { .row($0) } ?? .none, lower: clamp.lower, upper: clamp.upper)
            if packsColumns, let packed {
                Im2Col.fillPacked(columns, from: source, channels: groupChannels, window: window, threads: threads)
                Gemm.multiply(
                    packed: packed[g], packedB: columns, n: outputPixels, beta: accumulate ? 1 : 0,
                    c: target, ldc: outputPixels, epilogue: epilogue, threads: threads)
                return
            }
            let matrix = isPointwise
                ? source : Im2Col.filled(columns, from: source, channels: groupChannels, window: window, threads: threads)
            if let packed {
                Gemm.multiply(
                    packed: packed[g], n: outputPixels, b: matrix, ldb: outputPixels, transB: false,
                    beta: accumulate ? 1 : 0, c: target, ldc: outputPixels, epilogue: epilogue, threads: threads)
            } else {
                Gemm.multiply(
                    m: groupOutChannels, n: outputPixels, k: depth, alpha: 1, a: weights, lda: depth, transA: false,
                    b: matrix, ldb: outputPixels, transB: false,
                    beta: accumulate ? 1 : 0, c: target, ldc: outputPixels, epilogue: epilogue, threads: threads)
            }
        }
    }

    /// Calls `body` for each image and group (float32 operands, `window` the 3-D padded
    /// geometry) with the group's index, first input plane, weights (`M/group × C/group·kernel`),
    /// bias (`nil` without) and first output plane.
    static func forEachGroup(
        _ input: Tensor, _ weight: Tensor, _ bias: Tensor?, group: Int, window: WindowGeometry, output: inout Tensor,
        _ body: (
            _ g: Int, _ source: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
            _ target: UnsafeMutablePointer<Float>
        ) -> Void
    ) {
        let (batch, channels, outChannels) = (input.shape[0], input.shape[1], weight.shape[0])
        let (groupChannels, groupOutChannels) = (channels / group, outChannels / group)
        let (inputPixels, outputPixels) = (Tensor.elementCount(window.input), Tensor.elementCount(window.output))
        let depth = weight.count / max(outChannels, 1)
        let biasValues = bias?.scalars(as: Float.self) ?? []
        input.withUnsafeBufferPointer(as: Float.self) { x in
            weight.withUnsafeBufferPointer(as: Float.self) { w in
                output.withUnsafeMutableBufferPointer(as: Float.self) { y in
                    biasValues.withUnsafeBufferPointer { biasBuffer in
                        guard let xBase = x.baseAddress, let wBase = w.baseAddress, let yBase = y.baseAddress else { return }
                        for image in 0..<batch {
                            for g in 0..<group {
                                body(
                                    g, xBase + (image * channels + g * groupChannels) * inputPixels,
                                    wBase + g * groupOutChannels * depth,
                                    biasBuffer.isEmpty ? nil : biasBuffer.baseAddress.map { $0 + g * groupOutChannels },
                                    yBase + (image * outChannels + g * groupOutChannels) * outputPixels)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The column matrix of a convolution: row `(c, kd, kh, kw)`, column `(od, oh, ow)` holds
/// the input pixel that kernel tap meets at that output position (zero in the padding).
package enum Im2Col {
    /// ``fill(_:from:channels:window:threads:)`` for two spatial axes (`window` 3-D with a
    /// unit leading axis), written in the packed-B layout of the native GEMM
    /// (`ckiln_sgemm_packed_b_count` floats).
    package static func fillPacked(
        _ packed: UnsafeMutablePointer<Float>, from source: UnsafePointer<Float>, channels: Int, window: WindowGeometry,
        threads: Int
    ) {
        let (inH, inW) = (window.input[1], window.input[2])
        let (kH, kW) = (window.kernel[1], window.kernel[2])
        let (outH, outW) = (window.output[1], window.output[2])
        let rows = channels * kH * kW
        let grain = max(1, 16_384 / max(outH * outW, 1))
        let isa = NativeKernels.activeISA.rawValue
        Parallel.forEach(rows, threads: threads, grain: grain) { range in
            let status = ckiln_im2col_packed(
                isa, source, channels, inH, inW, kH, kW, window.strides[1], window.strides[2], window.dilations[1],
                window.dilations[2], window.padsBegin[1], window.padsBegin[2], outH, outW, range.lowerBound,
                range.upperBound, packed)
            precondition(status == 0, "out of memory for the im2col row buffer")
        }
    }

    /// ``fill(_:from:channels:window:threads:)``, returning `columns`.
    static func filled(
        _ columns: UnsafeMutablePointer<Float>, from source: UnsafePointer<Float>, channels: Int,
        window: WindowGeometry, threads: Int
    ) -> UnsafePointer<Float> {
        fill(columns, from: source, channels: channels, window: window, threads: threads)
        return UnsafePointer(columns)
    }

    /// Fills `columns` (`channels·kd·kh·kw × od·oh·ow`) from one image's `channels` planes.
    package static func fill(
        _ columns: UnsafeMutablePointer<Float>, from source: UnsafePointer<Float>, channels: Int,
        window: WindowGeometry, threads: Int
    ) {
        let (inD, inH, inW) = (window.input[0], window.input[1], window.input[2])
        let (kD, kH, kW) = (window.kernel[0], window.kernel[1], window.kernel[2])
        let (outD, outH, outW) = (window.output[0], window.output[1], window.output[2])
        let (sD, sH, sW) = (window.strides[0], window.strides[1], window.strides[2])
        let (dD, dH, dW) = (window.dilations[0], window.dilations[1], window.dilations[2])
        let (pD, pH, pW) = (window.padsBegin[0], window.padsBegin[1], window.padsBegin[2])
        let rows = channels * kD * kH * kW
        let outputPixels = outD * outH * outW
        let grain = max(1, 16_384 / max(outputPixels, 1))
        if kD == 1 && inD == 1 && outD == 1 && pD == 0 {
            // Two spatial axes: the native copy loop.
            let isa = NativeKernels.activeISA.rawValue
            Parallel.forEach(rows, threads: threads, grain: grain) { range in
                ckiln_im2col(
                    isa, source, channels, inH, inW, kH, kW, sH, sW, dH, dW, pH, pW, outH, outW,
                    range.lowerBound, range.upperBound, columns)
            }
            return
        }
        Parallel.forEach(rows, threads: threads, grain: grain) { range in
            for row in range {
                let kw = row % kW
                let kh = (row / kW) % kH
                let kd = (row / (kW * kH)) % kD
                let channel = row / (kW * kH * kD)
                let plane = source + channel * inD * inH * inW
                var out = columns + row * outputPixels
                // Output columns whose input column is inside the image: [lowW, highW).
                let offsetW = kw * dW - pW
                let lowW = min(outW, offsetW >= 0 ? 0 : (-offsetW + sW - 1) / sW)
                let highW = max(lowW, min(outW, inW - offsetW > 0 ? (inW - offsetW + sW - 1) / sW : 0))
                for od in 0..<outD {
                    let id = od * sD + kd * dD - pD
                    for oh in 0..<outH {
                        let ih = oh * sH + kh * dH - pH
                        guard id >= 0, id < inD, ih >= 0, ih < inH else {
                            out.initialize(repeating: 0, count: outW)
                            out += outW
                            continue
                        }
                        let line = plane + (id * inH + ih) * inW + offsetW
                        for ow in 0..<lowW { out[ow] = 0 }
                        if sW == 1 {
                            for ow in lowW..<highW { out[ow] = line[ow] }
                        } else {
                            for ow in lowW..<highW { out[ow] = line[ow * sW] }
                        }
                        for ow in highW..<outW { out[ow] = 0 }
                        out += outW
                    }
                }
            }
        }
    }
}

/// Depthwise convolution (`group == C`, one input channel per group, any channel
/// multiplier) computed directly by the native plane kernel (AVX2 along output rows), with
/// bias and clamp fused; planes are split over threads.
enum DepthwiseConvolution {
    static func run(
        _ input: Tensor, _ weight: Tensor, _ bias: Tensor?, _ window: WindowGeometry,
        _ output: inout Tensor, clamp: (lower: Float, upper: Float), threads: Int
    ) {
        let batch = input.shape[0]
        let channels = input.shape[1]
        let outChannels = weight.shape[0]
        let multiplier = outChannels / channels
        let (inH, inW) = (window.input[1], window.input[2])
        let (kH, kW) = (window.kernel[1], window.kernel[2])
        let (outH, outW) = (window.output[1], window.output[2])
        let (sH, sW) = (window.strides[1], window.strides[2])
        let (dH, dW) = (window.dilations[1], window.dilations[2])
        let (pH, pW) = (window.padsBegin[1], window.padsBegin[2])
        let biasValues = bias?.scalars(as: Float.self)
        let isa = NativeKernels.activeISA.rawValue
        input.withUnsafeBufferPointer(as: Float.self) { x in
            weight.withUnsafeBufferPointer(as: Float.self) { w in
                output.withUnsafeMutableBufferPointer(as: Float.self) { y in
                    guard let xBase = x.baseAddress, let wBase = w.baseAddress, let yBase = y.baseAddress else { return }
                    // At least ~32k multiply-adds per chunk: smaller splits cost more than they save.
                    let grain = max(1, 32_768 / max(1, outH * outW * kH * kW))
                    Parallel.forEach(batch * outChannels, threads: threads, grain: grain) { range in
                        for planeIndex in range {
                            let image = planeIndex / outChannels
                            let m = planeIndex % outChannels
                            ckiln_depthwise_plane(
                                isa, xBase + (image * channels + m / multiplier) * inH * inW, inH, inW,
                                wBase + m * kH * kW, kH, kW, sH, sW, dH, dW, pH, pW,
                                biasValues?[m] ?? 0, clamp.lower, clamp.upper,
                                yBase + planeIndex * outH * outW, outH, outW)
                        }
                    }
                }
            }
        }
    }
}
