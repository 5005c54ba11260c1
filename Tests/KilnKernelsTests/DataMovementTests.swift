import KilnCore
import KilnKernels
import Testing

/// Runs a byte-moving kernel into a fresh tensor.
private func moved(_ shape: [Int], _ dtype: DType, _ body: (UnsafeMutableRawPointer) -> Void) -> Tensor {
    var output = Tensor(zeros: shape, dtype: dtype)
    output.withUnsafeMutableBytes { buffer in
        if let base = buffer.baseAddress { body(base) }
    }
    return output
}

private func floats(_ shape: [Int]) -> Tensor {
    Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { Float($0) })
}

@Suite struct StridedCopyTests {
    @Test(arguments: [
        ([3, 7, 5, 2], [2, 0, 3, 1]), ([2, 37, 45], [0, 2, 1]), ([70, 33], [1, 0]), ([4, 1, 6], [1, 2, 0]),
    ], [1, 3])
    func transposeMatchesNaive(layout: ([Int], [Int]), threads: Int) {
        let (shape, permutation) = layout
        let input = floats(shape)
        let outShape = permutation.map { shape[$0] }
        let output = moved(outShape, .float32) { out in
            input.withUnsafeBytes { source in
                StridedCopy.transpose(
                    source.baseAddress!, shape: shape, permutation: permutation, elementSize: 4, into: out,
                    threads: threads)
            }
        }
        // Output element at multi-index o reads input at i[permutation[k]] = o[k].
        let inStrides = Tensor.strides(shape)
        let outStrides = Tensor.strides(outShape)
        let expected = (0..<input.count).map { flat -> Float in
            var source = 0
            for axis in outShape.indices {
                source += (flat / outStrides[axis]) % outShape[axis] * inStrides[permutation[axis]]
            }
            return Float(source)
        }
        #expect(output.scalars(as: Float.self) == expected)
    }

    @Test func reversedViewWithNegativeStride() {
        let input = floats([2, 5])
        // Every other element of each row, backwards: x[:, 4::-2].
        let output = moved([2, 3], .float32) { out in
            input.withUnsafeBytes { source in
                StridedCopy.copy(
                    from: source.baseAddress!, offset: 4, strides: [5, -2], shape: [2, 3], elementSize: 4, to: out)
            }
        }
        #expect(output.scalars(as: Float.self) == [4, 2, 0, 9, 7, 5])
    }

    @Test func tileAndExpandOfInt16() {
        let input = Tensor(shape: [2, 1], scalars: [Int16(1), 2])
        let tiled = moved([4, 3], .int16) { out in
            input.withUnsafeBytes { source in
                StridedCopy.tile(source.baseAddress!, shape: [2, 1], repeats: [2, 3], elementSize: 2, into: out)
            }
        }
        #expect(tiled.scalars(as: Int16.self) == [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2])
        let expanded = moved([2, 2, 3], .int16) { out in
            input.withUnsafeBytes { source in
                StridedCopy.expand(source.baseAddress!, shape: [2, 1], to: [2, 2, 3], elementSize: 2, into: out)
            }
        }
        #expect(expanded.scalars(as: Int16.self) == [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2])
    }

    /// NCHW ↔ NHWC bytes of one image against the element loop: the shuffled 3-plane path
    /// (16 pixels a step, and its tail), the other plane counts, both directions.
    @Test(arguments: [1, 2, 3, 4, 6])
    func interleavesPlanesOfBytes(planes: Int) {
        for count in [1, 15, 16, 17, 100] {
            let planar = (0..<(planes * count)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            var expected = [UInt8](repeating: 0, count: planar.count)
            for p in 0..<count {
                for c in 0..<planes { expected[p * planes + c] = planar[c * count + p] }
            }
            var interleaved = [UInt8](repeating: 0, count: planar.count)
            var back = [UInt8](repeating: 0, count: planar.count)
            planar.withUnsafeBytes { source in
                interleaved.withUnsafeMutableBytes { target in
                    StridedCopy.interleaveBytes(
                        source.baseAddress!, count: count, planes: planes, into: target.baseAddress!, toInterleaved: true)
                }
            }
            interleaved.withUnsafeBytes { source in
                back.withUnsafeMutableBytes { target in
                    StridedCopy.interleaveBytes(
                        source.baseAddress!, count: count, planes: planes, into: target.baseAddress!, toInterleaved: false)
                }
            }
            #expect(interleaved == expected, "\(planes) planes of \(count)")
            #expect(back == planar, "\(planes) planes of \(count)")
        }
    }
}

@Suite struct PadTests {
    @Test(arguments: [
        (PadMode.constant, [-1, -1, 0, 1, 2, -1]),
        (PadMode.edge, [0, 0, 0, 1, 2, 2]),
        (PadMode.reflect, [2, 1, 0, 1, 2, 1]),
        (PadMode.wrap, [1, 2, 0, 1, 2, 0]),
    ])
    func sourceIndices(mode: PadMode, expected: [Int]) {
        #expect(Pad.sourceIndices(dim: 3, begin: 2, end: 1, mode: mode) == expected)
    }

    @Test func negativePadsCrop() {
        #expect(Pad.sourceIndices(dim: 5, begin: -2, end: -1, mode: .constant) == [2, 3])
    }

    @Test(arguments: [1, 2, 5])
    func remapIsThreadIndependent(threads: Int) {
        let shape = [4, 3, 5]
        let input = floats(shape)
        let pads = [1, 0, 2, 0, 3, 1]
        let output = moved([5, 6, 8], .float32) { out in
            input.withUnsafeBytes { source in
                Pad.pad(
                    source.baseAddress!, shape: shape, pads: pads, mode: .reflect, constant: [0, 0, 0, 0],
                    elementSize: 4, into: out, threads: threads)
            }
        }
        let single = moved([5, 6, 8], .float32) { out in
            input.withUnsafeBytes { source in
                Pad.pad(
                    source.baseAddress!, shape: shape, pads: pads, mode: .reflect, constant: [0, 0, 0, 0],
                    elementSize: 4, into: out)
            }
        }
        #expect(output == single)
        // Output [0, 0, 0] reads input [1, 0, 2] (reflected where padded before).
        #expect(output.scalars(as: Float.self)[0] == Float(1 * 15 + 0 * 5 + 2))
    }
}

@Suite struct ResizeTests {
    @Test(arguments: [
        (Resize.NearestRounding.roundPreferFloor, 1.5, 1), (.roundPreferFloor, 1.6, 2),
        (.roundPreferCeil, 1.5, 2), (.roundPreferCeil, 1.4, 1),
        (.floor, 1.9, 1), (.ceil, 1.1, 2), (.ceil, 2.0, 2),
    ])
    func nearestRounding(rounding: Resize.NearestRounding, x: Double, expected: Int) {
        // asymmetric with scale 1/x maps output 1 to x.
        let scaled = Resize.plan(
            inputLength: 4, outputLength: 2, scale: 1 / x,
            parameters: Resize.Parameters(mode: .nearest, nearestRounding: rounding, transform: .asymmetric))
        #expect(scaled.indices[1] == expected)
    }

    @Test(arguments: [Resize.Mode.linear, .cubic], [0.4, 1.7, 3])
    func interpolationWeightsSumToOne(mode: Resize.Mode, scale: Double) {
        for antialias in [false, true] {
            let plan = Resize.plan(
                inputLength: 7, outputLength: Int(7 * scale), scale: scale,
                parameters: Resize.Parameters(mode: mode, antialias: antialias))
            for output in 0..<plan.outputLength {
                let sum = plan.weights[(output * plan.taps)..<((output + 1) * plan.taps)].reduce(0, +)
                #expect(abs(sum - 1) < 1e-9)
            }
        }
    }

    @Test(arguments: [1, 3])
    func bilinearUpsampleOfARamp(threads: Int) {
        // Linear, align_corners: a ramp stays a ramp.
        let parameters = Resize.Parameters(mode: .linear, transform: .alignCorners)
        let plan = Resize.plan(inputLength: 3, outputLength: 5, scale: 5.0 / 3.0, parameters: parameters)
        let result = Resize.interpolate(
            [Float](arrayLiteral: 0, 2, 4, 10, 12, 14), shape: [2, 3], plans: [nil, plan], extrapolationValue: 0,
            threads: threads)
        #expect(result == [0, 1, 2, 3, 4, 10, 11, 12, 13, 14])
    }
}

@Suite struct IndexingKernelTests {
    @Test func topKTiesGoToTheLowerIndex() {
        let input: [Float] = [1, 3, 3, 2, 3]
        var values = [Float](repeating: 0, count: 3)
        var indices = [Int64](repeating: 0, count: 3)
        input.withUnsafeBufferPointer { source in
            values.withUnsafeMutableBufferPointer { valueBuffer in
                indices.withUnsafeMutableBufferPointer { indexBuffer in
                    TopK.topK(
                        source, outer: 1, axisDim: 5, inner: 1, k: 3, isBefore: { $0 > $1 }, values: valueBuffer,
                        indices: indexBuffer)
                }
            }
        }
        #expect(values == [3, 3, 3])
        #expect(indices == [1, 2, 4])
    }

    @Test func scatterNDAddsDuplicates() {
        var data: [Int32] = [0, 0, 0, 0]
        let updates: [Int32] = [5, 7, Int32.max]
        data.withUnsafeMutableBufferPointer { output in
            updates.withUnsafeBufferPointer { source in
                Scatter.scatterND(
                    into: output, dataShape: [4], indices: [1, 1, 3], indexDepth: 1, updates: source,
                    combine: Scatter.integerCombiner(.add, Int32.self))
            }
        }
        #expect(data == [0, 12, 0, Int32.max])
    }

    @Test func triluKeepsTheUpperBand() {
        let input = Tensor(shape: [3, 3], scalars: [UInt8](1...9))
        let output = moved([3, 3], .uint8) { out in
            input.withUnsafeBytes { source in
                Trilu.trilu(
                    source.baseAddress!, batches: 1, rows: 3, columns: 3, diagonal: 1, upper: true, elementSize: 1,
                    into: out)
            }
        }
        #expect(output.scalars(as: UInt8.self) == [0, 2, 3, 0, 0, 6, 0, 0, 0])
    }
}
