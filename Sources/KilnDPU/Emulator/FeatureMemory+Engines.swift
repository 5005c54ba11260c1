import KilnCore
import KilnKernels

/// The element-wise engine over one tile.
extension FeatureMemory {
    /// Stored rows `rows` of an element-wise or one-operand layer, through its table.
    mutating func pointwise(_ layer: DPULayer, _ prepared: PreparedLayer, rows: Range<Int>, threads: Int) {
        let output = buffers[layer.output]
        let length = output.rowLength
        let outerShape = Array(output.storedShape.dropLast())
        let strides = layer.inputs.map { Self.strides(of: buffers[$0], in: output) }
        let sources = layer.inputs.map { storage[$0] }
        let isBinary = layer.inputs.count == 2
        let isDense = strides.allSatisfy { $0 == Tensor.strides(output.storedShape) }
        // Read on the calling task: worker threads do not see a forced instruction set.
        let isa = NativeKernels.activeISA
        storage[layer.output].withUnsafeMutableBufferPointer { target in
            let targetAddress = UInt(bitPattern: target.baseAddress)
            sources[0].withUnsafeBufferPointer { a in
                sources[isBinary ? 1 : 0].withUnsafeBufferPointer { b in
                    prepared.table.withUnsafeBufferPointer { table in
                        Parallel.forEach(rows.count, threads: threads, grain: Self.grain(8, perItem: length)) { chunk in
                            guard let out = UnsafeMutablePointer<Int8>(bitPattern: targetAddress) else { return }
                            // Operands laid out like the output: the chunk's rows are one run.
                            if isBinary, let add = prepared.addStage, isDense, let a = a.baseAddress, let b = b.baseAddress {
                                let base = (rows.lowerBound + chunk.lowerBound) * length
                                NativeInt8NHWC.add(
                                    isa: isa, count: chunk.count * length, a: a + base, shiftA: add.shiftA, b: b + base,
                                    shiftB: add.shiftB, half: add.half, shift: add.shift, lower: add.lower,
                                    upper: add.upper, out: out + base)
                                return
                            }
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
                                if isBinary, let add = prepared.addStage, innerA == 1, strides[1].last == 1,
                                    let a = a.baseAddress, let b = b.baseAddress
                                {
                                    NativeInt8NHWC.add(
                                        isa: isa, count: length, a: a + offsetA, shiftA: add.shiftA, b: b + offsetB,
                                        shiftB: add.shiftB, half: add.half, shift: add.shift, lower: add.lower,
                                        upper: add.upper, out: out + base)
                                } else if isBinary {
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

    /// Items per parallel chunk: at least `minimum`, and at least 8k operations (bytes
    /// moved, multiply-adds) at `perItem` each — a thread's wake-up (~0.25 µs) costs more
    /// than a smaller share saves. (32k kept the im2col of a 16×16, 16-channel 3×3 layer on
    /// one thread: tiny models were 5–7 % slower at two threads; 4k was slower again.)
    static func grain(_ minimum: Int, perItem: Int) -> Int {
        max(minimum, 8_192 / max(perItem, 1))
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
