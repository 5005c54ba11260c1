import KilnCore
import Testing

@testable import KilnKernels

/// The native 2-D max pooling against the generic kernel (which runs when indices are asked for).
struct NativePoolTests {
    struct PoolCase: Sendable, CustomTestStringConvertible {
        var input: [Int]
        var kernel: [Int]
        var strides: [Int]
        var dilations: [Int] = [1, 1]
        var pads: [Int] = [0, 0, 0, 0]
        var ceilMode = false
        var testDescription: String { "in \(input) k \(kernel) s \(strides) d \(dilations) p \(pads) ceil \(ceilMode)" }
    }

    static let cases: [PoolCase] = [
        PoolCase(input: [32, 32], kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]),
        PoolCase(input: [13, 37], kernel: [2, 2], strides: [2, 2]),
        PoolCase(input: [13, 37], kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1]),
        PoolCase(input: [11, 29], kernel: [3, 2], strides: [2, 3], dilations: [2, 2], pads: [2, 1, 2, 1], ceilMode: true),
        PoolCase(input: [9, 41], kernel: [3, 3], strides: [2, 2], pads: [0, 0, 1, 1], ceilMode: true),
        PoolCase(input: [5, 5], kernel: [2, 2], strides: [1, 1], pads: [1, 1, 1, 1]),
        // Rows wider than one 16-lane vector (stride 2 reads two), dilated taps, odd tails.
        PoolCase(input: [6, 70], kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]),
        PoolCase(input: [4, 40], kernel: [3, 3], strides: [1, 1], dilations: [1, 2], pads: [1, 2, 1, 2]),
        PoolCase(input: [7, 33], kernel: [2, 5], strides: [1, 2], pads: [0, 2, 1, 2], ceilMode: true),
    ]

    @Test("native MaxPool equals the generic kernel, NaNs included", arguments: cases)
    func matchesGeneric(config: PoolCase) throws {
        var random = TestRandom(seed: UInt64(config.input.reduce(1, *)))
        var values = random.floats(2 * 3 * config.input.reduce(1, *))
        for index in stride(from: 5, to: values.count, by: 97) { values[index] = .nan }
        let input = Tensor(shape: [2, 3] + config.input, scalars: values)
        let geometry = try WindowGeometry.forward(
            input: config.input, kernel: config.kernel, strides: config.strides, dilations: config.dilations,
            pads: config.pads, autoPad: .notSet, ceilMode: config.ceilMode)
        let shape = [2, 3] + geometry.output
        var generic = Tensor(zeros: shape, dtype: .float32)
        var indices: Tensor? = Tensor(zeros: shape, dtype: .int64)
        try Pooling.maxPool(input: input, geometry: geometry, storageOrder: 0, output: &generic, indices: &indices, threads: 1)
        let expected = generic.scalars(as: Float.self)
        for isa in NativeGemmTests.isas {
            for threads in [1, 2] {
                var native = Tensor(zeros: shape, dtype: .float32)
                var none: Tensor? = nil
                try NativeKernels.withISA(isa) {
                    try Pooling.maxPool(input: input, geometry: geometry, storageOrder: 0, output: &native, indices: &none, threads: threads)
                }
                let actual = native.scalars(as: Float.self)
                let same = zip(actual, expected).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
                #expect(same, "\(isa) threads \(threads)")
            }
        }
    }
}
