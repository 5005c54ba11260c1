import KilnCore
import KilnKernels
import Testing

/// Deterministic pseudo-random floats in [-4, 4).
private func values(_ count: Int, seed: UInt64 = 1) -> [Float] {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int(state >> 40) % 8000) / 1000 - 4
    }
}

private func tensor(_ shape: [Int], seed: UInt64 = 1) -> Tensor {
    Tensor(shape: shape, scalars: values(Tensor.elementCount(shape), seed: seed))
}

@Suite struct BinaryKernelTests {
    static let shapePairs: [([Int], [Int])] = [
        ([2, 3, 4], [2, 3, 4]), ([2, 3, 4], []), ([], [5]), ([2, 3, 4], [4]), ([2, 3, 4], [3, 1]),
        ([2, 1, 4], [1, 3, 1]), ([1, 5, 1, 7], [3, 1, 6, 7]), ([3, 1], [1, 0]), ([4, 1, 1], [4, 2, 2]),
    ]

    @Test(arguments: shapePairs)
    func broadcastSubtractMatchesIndexReference(_ shapes: ([Int], [Int])) throws {
        let a = tensor(shapes.0, seed: 3)
        let b = tensor(shapes.1, seed: 5)
        let shape = try Broadcast.checkedShape([a.shape, b.shape])
        let indexA = Broadcast.indices(of: a.shape, to: shape)
        let indexB = Broadcast.indices(of: b.shape, to: shape)
        let x = a.scalars(as: Float.self)
        let y = b.scalars(as: Float.self)
        let expected = (0..<indexA.count).map { x[indexA[$0]] - y[indexB[$0]] }
        for threads in [1, 3] {
            var output = Tensor(zeros: shape, dtype: .float32)
            try BinaryKernels.arithmetic(.sub, a, b, into: &output, threads: threads)
            #expect(output.scalars(as: Float.self) == expected)
        }
    }

    @Test func largeScalarBroadcastIsIdenticalAcrossThreads() throws {
        let a = tensor([70_001], seed: 9)
        let b = Tensor(scalar: Float(0.5))
        var one = Tensor(zeros: a.shape, dtype: .float32)
        var four = Tensor(zeros: a.shape, dtype: .float32)
        try BinaryKernels.arithmetic(.mul, a, b, into: &one, threads: 1)
        try BinaryKernels.arithmetic(.mul, a, b, into: &four, threads: 4)
        #expect(one == four)
        #expect(one.scalars(as: Float.self)[70_000] == a.scalars(as: Float.self)[70_000] * 0.5)
    }

    @Test func integerDivisionTruncatesAndModFollowsDivisor() throws {
        let a = Tensor(shape: [4], scalars: [-7, 7, -7, 7] as [Int32])
        let b = Tensor(shape: [4], scalars: [2, 2, -2, 0] as [Int32])
        var quotient = Tensor(zeros: [4], dtype: .int32)
        try BinaryKernels.arithmetic(.div, a, b, into: &quotient)
        #expect(quotient.scalars(as: Int32.self)[0..<3] == [-3, 3, 3])
        var modulo = Tensor(zeros: [4], dtype: .int32)
        try BinaryKernels.arithmetic(.mod(fmod: false), a, b, into: &modulo)
        #expect(modulo.scalars(as: Int32.self)[0..<3] == [1, 1, -1])
        try BinaryKernels.arithmetic(.mod(fmod: true), a, b, into: &modulo)
        #expect(modulo.scalars(as: Int32.self)[0..<3] == [-1, 1, -1])
    }

    @Test func shiftsOutsideTheWidthFillWithTheSign() throws {
        let x = Tensor(shape: [4], scalars: [-8, -8, 8, 1] as [Int8])
        let amounts = Tensor(shape: [4], scalars: [1, 9, -1, 7] as [Int8])
        var right = Tensor(zeros: [4], dtype: .int8)
        try BinaryKernels.arithmetic(.shiftRight, x, amounts, into: &right)
        #expect(right.scalars(as: Int8.self) == [-4, -1, 0, 0])
        var left = Tensor(zeros: [4], dtype: .int8)
        try BinaryKernels.arithmetic(.shiftLeft, x, amounts, into: &left)
        #expect(left.scalars(as: Int8.self) == [-16, 0, 0, -128])
    }

    @Test func whereSelectsWithThreeWayBroadcast() {
        let condition = Tensor(shape: [2, 1], scalars: [true, false])
        let x = Tensor(shape: [3], scalars: [1, 2, 3] as [Int64])
        let y = Tensor(scalar: Int64(-1))
        var output = Tensor(zeros: [2, 3], dtype: .int64)
        SelectKernels.select(condition, x, y, into: &output)
        #expect(output.scalars(as: Int64.self) == [1, 2, 3, -1, -1, -1])
    }
}

@Suite struct ReduceKernelTests {
    static let cases: [([Int], [Int])] = [
        ([2, 3, 4], [1]), ([2, 3, 4], [2]), ([2, 3, 4], [0]), ([2, 3, 4], [0, 2]), ([2, 3, 4], [0, 1, 2]),
        ([5, 1, 3], [1]), ([3, 1, 2, 5], [0, 3]), ([4, 0, 2], [1]), ([2, 3], []),
    ]

    @Test(arguments: cases)
    func sumMatchesNaiveReference(_ testCase: ([Int], [Int])) throws {
        let (shape, axes) = testCase
        let input = tensor(shape, seed: 11)
        let reduced = Set(axes)
        let outputShape = shape.enumerated().map { reduced.contains($0) ? 1 : $1 }
        var expected = [Double](repeating: 0, count: Tensor.elementCount(outputShape))
        let strides = Tensor.strides(outputShape)
        for (index, value) in input.scalars(as: Float.self).enumerated() {
            var remainder = index
            var target = 0
            for axis in shape.indices.reversed() {
                let coordinate = remainder % shape[axis]
                remainder /= shape[axis]
                if !reduced.contains(axis) { target += coordinate * strides[axis] }
            }
            expected[target] += Double(value)
        }
        for threads in [1, 2] {
            var output = Tensor(zeros: outputShape, dtype: .float32)
            try ReduceKernels.reduce(.sum, input, axes: axes, into: &output, threads: threads)
            for (actual, wanted) in zip(output.scalars(as: Float.self), expected) {
                #expect(abs(Double(actual) - wanted) < 1e-4)
            }
        }
    }

    @Test func logSumExpIsStableForLargeValues() throws {
        let input = Tensor(shape: [2, 2], scalars: [1000, 1000, -1000, -1000] as [Float])
        var output = Tensor(zeros: [2], dtype: .float32)
        try ReduceKernels.reduce(.logSumExp, input, axes: [1], into: &output)
        let result = output.scalars(as: Float.self)
        #expect(abs(result[0] - (1000 + 0.693_147_2)) < 1e-3)
        #expect(abs(result[1] - (-1000 + 0.693_147_2)) < 1e-3)
    }

    @Test func emptyReductionsGiveIdentities() throws {
        let input = Tensor(zeros: [2, 0], dtype: .float32)
        var output = Tensor(zeros: [2], dtype: .float32)
        try ReduceKernels.reduce(.prod, input, axes: [1], into: &output)
        #expect(output.scalars(as: Float.self) == [1, 1])
        try ReduceKernels.reduce(.max, input, axes: [1], into: &output)
        #expect(output.scalars(as: Float.self) == [-.infinity, -.infinity])
    }
}

@Suite struct CastAndQuantizeTests {
    @Test func floatToIntegerTruncatesAndBoolIsNonZero() throws {
        let input = Tensor(shape: [5], scalars: [-2.7, -0.5, 0, 0.5, 300.9] as [Float])
        #expect(try CastKernels.casted(input, to: .int32).scalars(as: Int32.self) == [-2, 0, 0, 0, 300])
        #expect(try CastKernels.casted(input, to: .bool).scalars(as: Bool.self) == [true, true, false, true, true])
        #expect(try CastKernels.casted(input, to: .uint8).scalars(as: UInt8.self)[4] == 44)  // 300 wraps
        let wide = Tensor(shape: [1], scalars: [UInt64.max])
        #expect(try CastKernels.casted(wide, to: .float64).scalars(as: Double.self) == [1.844_674_407_370_955_2e19])
    }

    @Test func quantizeRoundsHalfToEvenAndSaturates() throws {
        let x = Tensor(shape: [6], scalars: [0.5, 1.5, 2.5, -0.5, 1000, -1000] as [Float])
        var output = Tensor(zeros: [6], dtype: .int8)
        try QuantizeKernels.quantize(
            x, scale: Tensor(scalar: Float(1)), zeroPoint: Tensor(scalar: Int8(1)),
            granularity: QuantizationGranularity(axis: 0), into: &output)
        #expect(output.scalars(as: Int8.self) == [1, 3, 3, 1, 127, -128])
    }

    @Test func perAxisQuantizationRoundTrips() throws {
        let x = Tensor(shape: [2, 3], scalars: [0, 1, 2, 0, 10, 20] as [Float])
        let scale = Tensor(shape: [2], scalars: [1, 10] as [Float])
        let zero = Tensor(shape: [2], scalars: [128, 0] as [UInt8])
        var quantized = Tensor(zeros: [2, 3], dtype: .uint8)
        try QuantizeKernels.quantize(
            x, scale: scale, zeroPoint: zero, granularity: QuantizationGranularity(axis: 0), into: &quantized)
        #expect(quantized.scalars(as: UInt8.self) == [128, 129, 130, 0, 1, 2])
        var restored = Tensor(zeros: [2, 3], dtype: .float32)
        try QuantizeKernels.dequantize(
            quantized, scale: scale, zeroPoint: zero, granularity: QuantizationGranularity(axis: 0),
            into: &restored)
        #expect(restored == x)
    }
}
