import KilnCore
import KilnKernels

/// The CONV / DWCONV, POOL and element-wise engines over one tile.
extension FeatureMemory {
    /// Output rows `rows` (of `images · height`) and channels `channels` of a convolution:
    /// im2col of the tile's windows, then one `Int8GEMM` over the tile's output channels
    /// (depthwise: a direct loop over the packed blocks), then `FixedPoint.convolution` per output.
    mutating func convolution(
        _ conv: DPUConvolution, layer: DPULayer, _ prepared: PreparedLayer, rows: Range<Int>, channels: Range<Int>,
        program: DPUProgram, threads: Int
    ) {
        let input = EngineView(buffers[layer.inputs[0]])
        let output = EngineView(buffers[layer.output])
        let ocp = program.geometry.outputChannelParallelism
        let k = conv.reduction
        let (kh, kw) = (conv.kernel[0], conv.kernel[1])
        let source = storage[layer.inputs[0]]
        let weights = prepared.weights
        let gemmWeights = prepared.gemmWeights
        let gemmColumns = prepared.gemmColumns
        let bias = prepared.bias
        let multiplier = conv.isDepthwise ? max(1, conv.outputChannels / max(1, conv.inputChannels)) : 1
        // Scalars of the hot loops (no array access inside them).
        let (strideY, strideX) = (conv.strides[0], conv.strides[1])
        let (dilationY, dilationX) = (conv.dilations[0], conv.dilations[1])
        let (padY, padX) = (conv.padBegin[0], conv.padBegin[1])
        let (upY, upX) = (conv.inputUpsampling[0], conv.inputUpsampling[1])
        let (inHeight, inWidth, inChannels) = (input.height, input.width, input.channels)
        let (outHeight, outWidth, outChannels) = (output.height, output.width, output.channels)
        let (shiftBias, shiftCut, activation, position) = (
            conv.shiftBias, conv.shiftCut, conv.activation, conv.outputPosition
        )
        let hasBias = bias != nil
        let paddedChannels = conv.paddedInputChannels
        let biases = bias ?? []
        // Where window tap (ky, kx) of output (oy, ox) reads, or -1 for padding.
        @inline(__always) func inputPixel(_ image: Int, _ oy: Int, _ ox: Int, _ ky: Int, _ kx: Int) -> Int {
            let vy = oy * strideY + ky * dilationY - padY
            let vx = ox * strideX + kx * dilationX - padX
            guard vy >= 0, vx >= 0, vy % upY == 0, vx % upX == 0 else { return -1 }
            let (iy, ix) = (vy / upY, vx / upX)
            guard iy < inHeight, ix < inWidth else { return -1 }
            return (image * inHeight + iy) * inWidth + ix
        }
        storage[layer.output].withUnsafeMutableBufferPointer { target in
            let targetAddress = UInt(bitPattern: target.baseAddress)
            source.withUnsafeBufferPointer { x in
                weights.withUnsafeBufferPointer { w in
                    gemmWeights.withUnsafeBufferPointer { g in
                        Parallel.forEach(rows.count, threads: threads) { chunk in
                            guard let out = UnsafeMutablePointer<Int8>(bitPattern: targetAddress) else { return }
                            let chunkRows = (rows.lowerBound + chunk.lowerBound)..<(rows.lowerBound + chunk.upperBound)
                            let m = chunkRows.count * outWidth
                            if conv.isDepthwise {
                                // Per output pixel: each tap once, accumulated over the tile's channels.
                                let first = channels.lowerBound
                                var sums = [Int32](repeating: 0, count: max(1, channels.count))
                                sums.withUnsafeMutableBufferPointer { sums in
                                    for row in chunkRows {
                                        let (image, oy) = (row / outHeight, row % outHeight)
                                        for ox in 0..<outWidth {
                                            for index in sums.indices { sums[index] = 0 }
                                            for ky in 0..<kh {
                                                for kx in 0..<kw {
                                                    let at = inputPixel(image, oy, ox, ky, kx)
                                                    guard at >= 0 else { continue }
                                                    let base = at * inChannels
                                                    let tap = ky * kw + kx
                                                    for oc in channels {
                                                        let weight = w[((oc / ocp) * k + tap) * ocp + oc % ocp]
                                                        sums[oc - first] &+=
                                                            Int32(x[base + oc / multiplier]) &* Int32(weight)
                                                    }
                                                }
                                            }
                                            let pixel = ((image * outHeight + oy) * outWidth + ox) * outChannels
                                            for oc in channels {
                                                out[pixel + oc] = Int8(
                                                    FixedPoint.convolution(
                                                        accumulator: Int64(sums[oc - first]),
                                                        bias: hasBias ? biases[oc] : nil,
                                                        shiftBias: shiftBias, shiftCut: shiftCut,
                                                        activation: activation,
                                                        outputPosition: position))
                                            }
                                        }
                                    }
                                }
                                return
                            }
                            // im2col: one row of K per output pixel of the chunk.
                            var columns = [Int8](repeating: 0, count: m * k)
                            var accumulators = [Int32](repeating: 0, count: m * max(1, channels.count))
                            columns.withUnsafeMutableBufferPointer { a in
                                var r = 0
                                for row in chunkRows {
                                    let (image, oy) = (row / outHeight, row % outHeight)
                                    for ox in 0..<outWidth {
                                        for ky in 0..<kh {
                                            for kx in 0..<kw {
                                                let at = inputPixel(image, oy, ox, ky, kx)
                                                guard at >= 0 else { continue }
                                                let base = r * k + (ky * kw + kx) * paddedChannels
                                                let from = at * inChannels
                                                for ci in 0..<inChannels { a[base + ci] = x[from + ci] }
                                            }
                                        }
                                        r += 1
                                    }
                                }
                            }
                            // One GEMM over the tile's channels: B is the K × (blocks · OCP) matrix the
                            // emulator unpacked once from the OCP blocks (columns = output channels).
                            let n = channels.count
                            columns.withUnsafeBufferPointer { a in
                                accumulators.withUnsafeMutableBufferPointer { c in
                                    guard let aBase = a.baseAddress, let wBase = g.baseAddress,
                                        let cBase = c.baseAddress
                                    else {
                                        return
                                    }
                                    Int8GEMM.multiply(
                                        m: m, n: n, k: k, a: aBase, lda: k, b: wBase + channels.lowerBound,
                                        ldb: gemmColumns,
                                        c: cBase, ldc: n, threads: 1)
                                    var r = 0
                                    for row in chunkRows {
                                        let (image, oy) = (row / outHeight, row % outHeight)
                                        for ox in 0..<outWidth {
                                            let pixel = (image * outHeight + oy) * outWidth + ox
                                            for oc in channels {
                                                out[pixel * outChannels + oc] = Int8(
                                                    FixedPoint.convolution(
                                                        accumulator: Int64(c[r * n + oc - channels.lowerBound]),
                                                        bias: hasBias ? biases[oc] : nil,
                                                        shiftBias: shiftBias, shiftCut: shiftCut,
                                                        activation: activation, outputPosition: position
                                                    ))
                                            }
                                            r += 1
                                        }
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
    /// padding; average sums with padded zeros and multiplies by the DPU's `m / 2^s`.
    mutating func pooling(_ pool: DPUPooling, layer: DPULayer, rows: Range<Int>, channels: Range<Int>, threads: Int) {
        let input = EngineView(buffers[layer.inputs[0]])
        let output = EngineView(buffers[layer.output])
        let source = storage[layer.inputs[0]]
        let (kh, kw) = (pool.kernel[0], pool.kernel[1])
        let (strideY, strideX, dilationY, dilationX) = (
            pool.strides[0], pool.strides[1], pool.dilations[0], pool.dilations[1]
        )
        let (padY, padX, isMax) = (pool.padBegin[0], pool.padBegin[1], pool.isMax)
        let (inHeight, inWidth, inChannels) = (input.height, input.width, input.channels)
        let (outHeight, outWidth, outChannels) = (output.height, output.width, output.channels)
        let (inputPosition, outputPosition) = (pool.inputPosition, pool.outputPosition)
        storage[layer.output].withUnsafeMutableBufferPointer { target in
            let targetAddress = UInt(bitPattern: target.baseAddress)
            source.withUnsafeBufferPointer { x in
                Parallel.forEach(rows.count, threads: threads) { chunk in
                    guard let out = UnsafeMutablePointer<Int8>(bitPattern: targetAddress) else { return }
                    for row in (rows.lowerBound + chunk.lowerBound)..<(rows.lowerBound + chunk.upperBound) {
                        let (image, oy) = (row / outHeight, row % outHeight)
                        for ox in 0..<outWidth {
                            let pixel = (image * outHeight + oy) * outWidth + ox
                            for c in channels {
                                var maximum = Int.min
                                var sum: Int64 = 0
                                for ky in 0..<kh {
                                    let iy = oy * strideY + ky * dilationY - padY
                                    guard iy >= 0, iy < inHeight else { continue }
                                    for kx in 0..<kw {
                                        let ix = ox * strideX + kx * dilationX - padX
                                        guard ix >= 0, ix < inWidth else { continue }
                                        let value = Int(
                                            x[((image * inHeight + iy) * inWidth + ix) * inChannels + c])
                                        maximum = max(maximum, value)
                                        sum += Int64(value)
                                    }
                                }
                                out[pixel * outChannels + c] =
                                    isMax
                                    ? Int8(maximum == Int.min ? -128 : maximum)
                                    : Int8(
                                        FixedPoint.averagePool(
                                            sum: sum, kernelHeight: kh, kernelWidth: kw,
                                            inputPosition: inputPosition,
                                            outputPosition: outputPosition))
                            }
                        }
                    }
                }
            }
        }
    }

    /// Stored rows `rows` of an element-wise or one-operand layer, through its table.
    mutating func pointwise(_ layer: DPULayer, _ prepared: PreparedLayer, rows: Range<Int>, threads: Int) {
        let output = buffers[layer.output]
        let length = output.rowLength
        let outerShape = Array(output.storedShape.dropLast())
        let strides = layer.inputs.map { Self.strides(of: buffers[$0], in: output) }
        let sources = layer.inputs.map { storage[$0] }
        let isBinary = layer.inputs.count == 2
        storage[layer.output].withUnsafeMutableBufferPointer { target in
            let targetAddress = UInt(bitPattern: target.baseAddress)
            sources[0].withUnsafeBufferPointer { a in
                sources[isBinary ? 1 : 0].withUnsafeBufferPointer { b in
                    prepared.table.withUnsafeBufferPointer { table in
                        Parallel.forEach(rows.count, threads: threads, grain: 8) { chunk in
                            guard let out = UnsafeMutablePointer<Int8>(bitPattern: targetAddress) else { return }
                            for row in (rows.lowerBound + chunk.lowerBound)..<(rows.lowerBound + chunk.upperBound) {
                                // The row's stored index, then each operand's offset.
                                var rest = row
                                var offsetA = 0
                                var offsetB = 0
                                for axis in outerShape.indices.reversed() {
                                    let index = rest % max(1, outerShape[axis])
                                    rest /= max(1, outerShape[axis])
                                    offsetA += index * strides[0][axis]
                                    if isBinary { offsetB += index * strides[1][axis] }
                                }
                                let innerA = strides[0].last ?? 0
                                let base = row * length
                                if isBinary {
                                    let innerB = strides[1].last ?? 0
                                    for i in 0..<length {
                                        let va = Int(a[offsetA + i * innerA]) + 128
                                        let vb = Int(b[offsetB + i * innerB]) + 128
                                        out[base + i] = table[va << 8 | vb]
                                    }
                                } else {
                                    for i in 0..<length { out[base + i] = table[Int(a[offsetA + i * innerA]) + 128] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The memory strides of `operand`, broadcast to `output`'s shape, in the order of
    /// `output`'s stored axes (0 along broadcast axes).
    static func strides(of operand: DPUBuffer, in output: DPUBuffer) -> [Int] {
        let rank = output.shape.count
        let extended = [Int](repeating: 1, count: rank - operand.shape.count) + operand.shape
        var memory: [Int]
        if operand.isNHWC {
            let (c, h, w) = (operand.shape[1], operand.shape[2], operand.shape[3])
            memory = [h * w * c, 1, w * c, c]
        } else {
            memory = Tensor.strides(operand.shape)
        }
        memory = [Int](repeating: 0, count: rank - operand.shape.count) + memory
        let logical = (0..<rank).map { extended[$0] == 1 && output.shape[$0] != 1 ? 0 : memory[$0] }
        return output.isNHWC ? [logical[0], logical[2], logical[3], logical[1]] : logical
    }
}
