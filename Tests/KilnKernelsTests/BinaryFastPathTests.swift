import KilnCore
import Testing

@testable import KilnKernels

/// The float32 add/sub/mul/div paths without a broadcast plan (repeating operands, per-channel
/// operands) against the planned float64 kernel on the same values.
struct BinaryFastPathTests {
    static let shapes: [([Int], [Int])] = [
        ([2, 3, 4, 5], [2, 3, 4, 5]), ([2, 3, 4, 5], []), ([2, 3, 4, 5], [5]), ([2, 3, 4, 5], [4, 5]),
        ([], [2, 3, 4, 5]), ([5], [2, 3, 4, 5]), ([2, 3, 4, 5], [3, 1, 1]), ([1, 3, 1, 1], [2, 3, 4, 5]),
        ([2, 3, 4, 5], [2, 3, 1, 1]), ([2, 3, 4, 5], [1, 3, 4, 1]), ([4, 1], [1, 5]), ([2, 3, 4, 5], [1, 1, 4, 1]),
    ]

    @Test(arguments: 0..<12)
    func matchesThePlannedKernel(index: Int) throws {
        let (shapeA, shapeB) = Self.shapes[index]
        var random = TestRandom(seed: UInt64(index + 7))
        let a = random.floats(max(1, shapeA.reduce(1, *))).map { $0 + 2 }
        let b = random.floats(max(1, shapeB.reduce(1, *))).map { $0 + 2 }
        let output = try Broadcast.checkedShape([shapeA, shapeB])
        for op in [BinaryOp.add, .sub, .mul, .div] {
            var single = Tensor(zeros: output, dtype: .float32)
            try BinaryKernels.arithmetic(
                op, Tensor(shape: shapeA, scalars: a), Tensor(shape: shapeB, scalars: b), into: &single, threads: 2)
            var double = Tensor(zeros: output, dtype: .float64)
            try BinaryKernels.arithmetic(
                op, Tensor(shape: shapeA, scalars: a.map(Double.init)), Tensor(shape: shapeB, scalars: b.map(Double.init)),
                into: &double, threads: 1)
            let worst = zip(single.scalars(as: Float.self), double.scalars(as: Double.self))
                .map { Swift.abs(Double($0) - $1) / Swift.abs($1) }.max() ?? 0
            #expect(worst <= 1e-6, "\(shapeA) \(op) \(shapeB): \(worst)")
        }
    }
}
