import KilnCore
import KilnKernels

/// Where a window tap of an output pixel reads: the geometry of a convolution or pool.
struct WindowGeometry {
    let strideY: Int, strideX: Int, dilationY: Int, dilationX: Int, padY: Int, padX: Int, upY: Int, upX: Int
    let inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int

    /// The input pixel (`(image · H + y) · W + x`) tap `(ky, kx)` of output `(oy, ox)` reads,
    /// or -1 in the padding (or between upsampled pixels).
    @inline(__always)
    func inputPixel(_ image: Int, _ oy: Int, _ ox: Int, _ ky: Int, _ kx: Int) -> Int {
        let vy = oy * strideY + ky * dilationY - padY
        let vx = ox * strideX + kx * dilationX - padX
        guard vy >= 0, vx >= 0 else { return -1 }
        var (iy, ix) = (vy, vx)
        if upY != 1 || upX != 1 {
            guard vy % upY == 0, vx % upX == 0 else { return -1 }
            (iy, ix) = (vy / upY, vx / upX)
        }
        guard iy < inHeight, ix < inWidth else { return -1 }
        return (image * inHeight + iy) * inWidth + ix
    }

    /// The same window for the native kernels, with a `kh × kw` kernel.
    func native(kernelHeight kh: Int, kernelWidth kw: Int) -> NativeInt8NHWC.Window {
        NativeInt8NHWC.Window(
            inHeight: inHeight, inWidth: inWidth, outHeight: outHeight, outWidth: outWidth, kernelHeight: kh,
            kernelWidth: kw, strideY: strideY, strideX: strideX, dilationY: dilationY, dilationX: dilationX, padY: padY,
            padX: padX, upY: upY, upX: upX)
    }
}

/// The CONV / DWCONV and POOL engines over one tile.
extension FeatureMemory {
    /// Output rows `rows` (of `images · height`) and channels `channels` of a convolution:
    /// im2col of the tile's windows into the reused scratch, one native int8 GEMM with the
    /// weights packed at program load, then the hoisted output stage (``ConvOutputStage``),
    /// fused into the GEMM when it is ``ConvOutputStage/Kind/clamp32``.
    /// Depthwise: a direct loop per output pixel over the tile's channels.
    mutating func convolution(
        _ conv: DPUConvolution, layer: DPULayer, _ prepared: PreparedLayer, rows: Range<Int>, channels: Range<Int>,
        program: DPUProgram, threads: Int
    ) {
        let input = EngineView(buffers[layer.inputs[0]])
        let output = EngineView(buffers[layer.output])
        let (m, n) = (rows.count * output.width, channels.count)
        guard m > 0, n > 0, let stage = prepared.stage else { return }
        let geometry = WindowGeometry(
            strideY: conv.strides[0], strideX: conv.strides[1], dilationY: conv.dilations[0],
            dilationX: conv.dilations[1], padY: conv.padBegin[0], padX: conv.padBegin[1],
            upY: conv.inputUpsampling[0], upX: conv.inputUpsampling[1], inHeight: input.height,
            inWidth: input.width, outHeight: output.height, outWidth: output.width)
        let (kh, kw) = (conv.kernel[0], conv.kernel[1])
        let (inChannels, outChannels, first) = (input.channels, output.channels, channels.lowerBound)
        let firstPixel = rows.lowerBound * output.width
        let source = storage[layer.inputs[0]]
        // Read on the calling task: worker threads do not see a forced instruction set.
        let isa = NativeKernels.activeISA
        let window = geometry.native(kernelHeight: kh, kernelWidth: kw)
        if conv.isDepthwise {
            let multiplier = max(1, conv.outputChannels / max(1, conv.inputChannels))
            let weightStride = conv.outputChannels
            if multiplier == 1 {
                depthwise(
                    layer: layer, prepared, stage: stage, window: window, weightStride: weightStride,
                    pixels: firstPixel..<(firstPixel + m),
                    channels: channels, inChannels: inChannels, outChannels: outChannels, isa: isa, threads: threads)
                return
            }
            storage[layer.output].withUnsafeMutableBufferPointer { target in
                source.withUnsafeBufferPointer { x in
                    prepared.depthwiseWeights.withUnsafeBufferPointer { w in
                        guard let out = target.baseAddress, let x = x.baseAddress, let w = w.baseAddress else { return }
                        Parallel.forEach(m, threads: threads, grain: 8) { pixels in
                            withUnsafeTemporaryAllocation(of: Int32.self, capacity: n) { sums in
                                guard let sums = sums.baseAddress else { return }
                                for r in pixels {
                                    let pixel = firstPixel + r
                                    let (row, ox) = (pixel / geometry.outWidth, pixel % geometry.outWidth)
                                    let (image, oy) = (row / geometry.outHeight, row % geometry.outHeight)
                                    sums.update(repeating: 0, count: n)
                                    for ky in 0..<kh {
                                        for kx in 0..<kw {
                                            let at = geometry.inputPixel(image, oy, ox, ky, kx)
                                            guard at >= 0 else { continue }
                                            let xs = x + at * inChannels
                                            let ws = w + (ky * kw + kx) * weightStride + first
                                            // int8 · int8 fits int16 (|product| ≤ 2^14).
                                            if multiplier == 1 {
                                                let xs = xs + first
                                                for j in 0..<n { sums[j] &+= Int32(Int16(xs[j]) &* ws[j]) }
                                            } else {
                                                for j in 0..<n {
                                                    sums[j] &+= Int32(Int16(xs[(first + j) / multiplier]) &* ws[j])
                                                }
                                            }
                                        }
                                    }
                                    stage.apply(sums, count: n, first: first, to: out + pixel * outChannels + first)
                                }
                            }
                        }
                    }
                }
            }
            return
        }
        // im2col without the padded input channels (the weights' rows match, ``PreparedLayer``).
        let (k, channelCount) = (prepared.gemmK, conv.inputChannels)
        guard channelCount <= inChannels, k == kh * kw * channelCount else { return }
        // A 1×1, stride-1, unpadded convolution reads the input's pixel rows as they are.
        let isPointwise =
            kh == 1 && kw == 1 && conv.strides == [1, 1] && conv.padBegin == [0, 0]
            && conv.inputUpsampling == [1, 1] && input.height == output.height && input.width == output.width
            && input.images == output.images
        if !isPointwise, columns.count < m * k { columns = [Int8](repeating: 0, count: m * k) }
        if accumulators.count < m * n { accumulators = [Int32](repeating: 0, count: m * n) }
        storage[layer.output].withUnsafeMutableBufferPointer { target in
            columns.withUnsafeMutableBufferPointer { columns in
                accumulators.withUnsafeMutableBufferPointer { c in
                    source.withUnsafeBufferPointer { x in
                        guard let out = target.baseAddress, let c = c.baseAddress, let x = x.baseAddress else { return }
                        let a: UnsafePointer<Int8>
                        let lda: Int
                        if isPointwise {
                            (a, lda) = (x + firstPixel * inChannels, inChannels)
                        } else {
                            guard let scratch = columns.baseAddress else { return }
                            (a, lda) = (UnsafePointer(scratch), k)
                            // im2col: row r = the window of the tile's pixel r.
                            Parallel.forEach(m, threads: threads, grain: Self.grain(32, perItem: k)) { pixels in
                                NativeInt8NHWC.im2col(
                                    isa: isa, window: window, input: x, inChannels: inChannels, channels: channelCount,
                                    pixels: (firstPixel + pixels.lowerBound)..<(firstPixel + pixels.upperBound),
                                    columns: scratch + pixels.lowerBound * k)
                            }
                        }
                        let to = out + firstPixel * outChannels + first
                        if let packed = prepared.packed[first], packed.n == n, packed.k == k {
                            // The output stage fused into the GEMM when it is native.
                            let fused = stage.withNative(first: first, count: n) { native in
                                guard let native else { return false }
                                NativeInt8GEMM.multiply(
                                    m: m, a: a, lda: lda, packed: packed, c: c, ldc: n, stage: native, out: to,
                                    ldo: outChannels, threads: threads)
                                return true
                            }
                            if fused { return }
                            NativeInt8GEMM.multiply(m: m, a: a, lda: lda, packed: packed, c: c, ldc: n, threads: threads)
                        } else {
                            prepared.gemmWeights.withUnsafeBufferPointer { g in
                                guard let g = g.baseAddress else { return }
                                Int8GEMM.multiply(
                                    m: m, n: n, k: k, a: a, lda: lda, b: g + first, ldb: prepared.gemmColumns, c: c, ldc: n,
                                    threads: threads)
                            }
                        }
                        Parallel.forEach(m, threads: threads, grain: Self.grain(64, perItem: n)) { pixels in
                            let r = pixels.lowerBound
                            stage.apply(
                                rows: pixels.count, c + r * n, lda: n, count: n, first: first,
                                to: to + r * outChannels, ldo: outChannels, isa: isa)
                        }
                    }
                }
            }
        }
    }

    /// A depthwise convolution with one output channel per input channel: native sums of
    /// each output pixel, requantized in the same pass when the stage is ``ConvOutputStage/Kind/clamp32``
    /// (into the accumulators and through the stage by row otherwise). Tap `t`'s weights are
    /// row `t` (stride `weightStride`) of the prepared depthwise weights.
    private mutating func depthwise(
        layer: DPULayer, _ prepared: PreparedLayer, stage: ConvOutputStage, window: NativeInt8NHWC.Window,
        weightStride: Int, pixels: Range<Int>, channels: Range<Int>, inChannels: Int, outChannels: Int,
        isa: NativeKernels.ISA, threads: Int
    ) {
        let (m, n, first) = (pixels.count, channels.count, channels.lowerBound)
        if accumulators.count < m * n { accumulators = [Int32](repeating: 0, count: m * n) }
        let source = storage[layer.inputs[0]]
        storage[layer.output].withUnsafeMutableBufferPointer { target in
            accumulators.withUnsafeMutableBufferPointer { sums in
                source.withUnsafeBufferPointer { x in
                    prepared.depthwiseWeights.withUnsafeBufferPointer { w in
                        guard let out = target.baseAddress, let sums = sums.baseAddress, let x = x.baseAddress,
                            let w = w.baseAddress
                        else { return }
                        stage.withNative(first: first, count: n) { native in
                            Parallel.forEach(m, threads: threads, grain: Self.grain(16, perItem: n * window.taps)) { chunk in
                                let r = chunk.lowerBound
                                let to = out + (pixels.lowerBound + r) * outChannels + first
                                NativeInt8NHWC.depthwise(
                                    isa: isa, window: window, input: x + first, inChannels: inChannels,
                                    weights: w + first, weightStride: weightStride, n: n,
                                    pixels: (pixels.lowerBound + r)..<(pixels.lowerBound + chunk.upperBound),
                                    sums: sums + r * n, lds: n, stage: native, out: to, ldo: outChannels)
                                if native == nil {
                                    for i in 0..<chunk.count {
                                        stage.apply(sums + (r + i) * n, count: n, first: first, to: to + i * outChannels)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Output rows `rows` and channels `channels` of a max or average pool. Max ignores
    /// padding (native, ``NativeInt8NHWC/maxPool(isa:window:input:inChannels:n:pixels:out:ldo:)``);
    /// average sums with padded zeros and multiplies by the DPU's `m / 2^s` (the prepared
    /// ``ConvOutputStage``).
    mutating func pooling(
        _ pool: DPUPooling, layer: DPULayer, _ prepared: PreparedLayer, rows: Range<Int>, channels: Range<Int>,
        threads: Int
    ) {
        let input = EngineView(buffers[layer.inputs[0]])
        let output = EngineView(buffers[layer.output])
        let (m, n) = (rows.count * output.width, channels.count)
        guard m > 0, n > 0 else { return }
        let geometry = WindowGeometry(
            strideY: pool.strides[0], strideX: pool.strides[1], dilationY: pool.dilations[0],
            dilationX: pool.dilations[1], padY: pool.padBegin[0], padX: pool.padBegin[1], upY: 1, upX: 1,
            inHeight: input.height, inWidth: input.width, outHeight: output.height, outWidth: output.width)
        let (kh, kw, isMax) = (pool.kernel[0], pool.kernel[1], pool.isMax)
        let (inChannels, outChannels, first) = (input.channels, output.channels, channels.lowerBound)
        let firstPixel = rows.lowerBound * output.width
        let source = storage[layer.inputs[0]]
        let stage = prepared.poolStage
        // Read on the calling task: worker threads do not see a forced instruction set.
        let isa = NativeKernels.activeISA
        storage[layer.output].withUnsafeMutableBufferPointer { target in
            source.withUnsafeBufferPointer { x in
                guard let out = target.baseAddress, let x = x.baseAddress else { return }
                if isMax {
                    let window = geometry.native(kernelHeight: kh, kernelWidth: kw)
                    Parallel.forEach(m, threads: threads, grain: Self.grain(16, perItem: n * kh * kw)) { pixels in
                        NativeInt8NHWC.maxPool(
                            isa: isa, window: window, input: x + first, inChannels: inChannels, n: n,
                            pixels: (firstPixel + pixels.lowerBound)..<(firstPixel + pixels.upperBound),
                            out: out + (firstPixel + pixels.lowerBound) * outChannels + first, ldo: outChannels)
                    }
                    return
                }
                Parallel.forEach(m, threads: threads, grain: Self.grain(16, perItem: n * kh * kw)) { pixels in
                    withUnsafeTemporaryAllocation(of: Int32.self, capacity: n) { values in
                        guard let values = values.baseAddress else { return }
                        for r in pixels {
                            let pixel = firstPixel + r
                            let (row, ox) = (pixel / geometry.outWidth, pixel % geometry.outWidth)
                            let (image, oy) = (row / geometry.outHeight, row % geometry.outHeight)
                            values.update(repeating: 0, count: n)
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let at = geometry.inputPixel(image, oy, ox, ky, kx)
                                    guard at >= 0 else { continue }
                                    let xs = x + at * inChannels + first
                                    for j in 0..<n { values[j] &+= Int32(xs[j]) }
                                }
                            }
                            if let stage { stage.apply(values, count: n, first: 0, to: out + pixel * outChannels + first) }
                        }
                    }
                }
            }
        }
    }
}
