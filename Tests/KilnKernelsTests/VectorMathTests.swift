import KilnCore
import Testing

@testable import KilnKernels

/// The native vector exp, sigmoid, SiLU, tanh, GELU, hard sigmoid and hard swish against the portable (libm) kernels,
/// over every magnitude, at the edges (overflow, underflow, ±0, ±∞, NaN) and through softmax.
struct VectorMathTests {
    static let ops: [(String, UnaryOp)] = [
        ("exp", .exp), ("sigmoid", .sigmoid), ("silu", .silu), ("tanh", .tanh), ("gelu", .gelu(tanh: false)),
        ("hardSigmoid", .hardSigmoid(alpha: 0.2, beta: 0.5)), ("hardSwish", .hardSwish),
    ]

    /// Values from −110 to 110 with a dense band near zero, the edges, and 1003 of them (a
    /// vector tail).
    static let values: [Float] = {
        var values = (0..<1000).map { Float($0 - 500) * 0.22 }
        values += (0..<300).map { Float($0 - 150) * 1e-4 }
        values += [0, -0, .infinity, -.infinity, 88.7, 88.73, -87.4, -100, 1e-30, -1e-30, 0.625, -0.625, 0.6249]
        return values
    }()

    func run(_ op: UnaryOp, isa: NativeKernels.ISA, _ values: [Float]) -> [Float] {
        var output = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                NativeKernels.withISA(isa) { UnaryKernels.floating(op, x, y, 1) }
            }
        }
        return output
    }

    @Test(arguments: 0..<7)
    func matchesLibm(index: Int) throws {
        let (name, op) = Self.ops[index]
        guard NativeKernels.cpuISA >= .avx2 else { return }
        let expected = run(op, isa: .portable, Self.values)
        let actual = run(op, isa: .avx2, Self.values)
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            let x = Self.values[i]
            // Subnormal results may flush to zero (sigmoid below −88: 1/(1 + ∞)).
            if e.isNaN || e.isInfinite || Swift.abs(e) < Float.leastNormalMagnitude {
                #expect(a == e || (a.isNaN && e.isNaN) || Swift.abs(a) < 1e-37, "\(name)(\(x)) = \(a), libm \(e)")
                continue
            }
            // GELU is checked in absolute terms (its erf is A&S 7.1.26); the rest to a few ulp.
            let error = name == "gelu" ? Double(Swift.abs(a - e)) / max(1, Double(Swift.abs(x)))
                : Double(Swift.abs(a - e)) / Double(Swift.abs(e))
            let bound = name == "gelu" ? 5e-7 : 1e-6
            #expect(error <= bound, "\(name)(\(x)) = \(a), libm \(e): error \(error)")
        }
        // NaN inputs: whatever the portable path gives (NaN, or 1 for hard sigmoid).
        let nan = run(op, isa: .avx2, [.nan, 1, .nan])
        let portable = run(op, isa: .portable, [.nan, 1, .nan])
        #expect(zip(nan, portable).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "\(name): \(nan) vs \(portable)")
    }

    /// The 16-lane kernels do the 8-lane kernels' operations: the same bits, NaN included,
    /// on every length (masked tails).
    @Test(arguments: 0..<7)
    func avx512MatchesAVX2BitForBit(index: Int) throws {
        let (name, op) = Self.ops[index]
        guard NativeKernels.cpuISA >= .avx512 else { return }
        for count in [Self.values.count, 15, 17, 1] {
            let values = Array(Self.values.suffix(count)) + (count == 1 ? [] : [.nan])
            let wide = run(op, isa: .avx512, values)
            let narrow = run(op, isa: .avx2, values)
            #expect(wide.map(\.bitPattern) == narrow.map(\.bitPattern) || zip(wide, narrow).allSatisfy {
                $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN)
            }, "\(name) on \(values.count) values")
        }
    }

    @Test func softmaxMatchesThePortablePath() throws {
        let input = Tensor(shape: [3, 37], scalars: (0..<111).map { Float(($0 * 7919) % 97) * 0.3 - 14 })
        var results: [[Float]] = []
        for isa in NativeGemmTests.isas.prefix(2) {
            var output = Tensor(zeros: [3, 37], dtype: .float32)
            try NativeKernels.withISA(isa) {
                try Softmax.run(.softmax, input: input, outer: 3, length: 37, inner: 1, output: &output, threads: 1)
            }
            results.append(output.scalars(as: Float.self))
        }
        let worst = zip(results[0], results.last ?? []).map { Swift.abs($0 - $1) / max($1, 1e-30) }.max() ?? 0
        #expect(worst <= 2e-6)
    }
}
