import Foundation
import KilnCore
import KilnKernels
import Testing

/// Prints GEMM and convolution throughput; meaningful only in a release build:
/// `KILN_BENCHMARK=1 swift test -c release --no-parallel --filter GemmBenchmark` (other tests
/// running alongside would steal the second core). Asserts nothing about time.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["KILN_BENCHMARK"] != nil))
struct GemmBenchmark {
    /// Best wall time of `repeats` runs, in seconds.
    private func bestTime(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = ContinuousClock.now
            try body()
            let elapsed = ContinuousClock.now - start
            best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        return best
    }

    @Test(arguments: [256, 512, 1024])
    func gemmThroughput(size: Int) {
        var random = TestRandom(seed: 1)
        let a = random.floats(size * size)
        let b = random.floats(size * size)
        var c = [Float](repeating: 0, count: size * size)
        for threads in [1, 2] {
            let seconds = bestTime(repeats: 5) {
                c.withUnsafeMutableBufferPointer { out in
                    guard let base = out.baseAddress else { return }
                    Gemm.multiply(
                        m: size, n: size, k: size, alpha: 1, a: a, lda: size, transA: false, b: b, ldb: size, transB: false,
                        beta: 0, c: base, ldc: size, threads: threads)
                }
            }
            print(String(format: "GEMM %d^3, %d thread(s): %.1f GFLOP/s (%.2f ms)", size, threads, 2 * pow(Double(size), 3) / seconds / 1e9, seconds * 1e3))
        }
    }

    @Test func convThroughput() throws {
        var random = TestRandom(seed: 2)
        for (channels, outChannels, group, extent) in [(64, 64, 1, 56), (256, 256, 1, 14), (64, 64, 64, 56)] {
            let input = Tensor(shape: [1, channels, extent, extent], scalars: random.floats(channels * extent * extent))
            let weight = Tensor(shape: [outChannels, channels / group, 3, 3], scalars: random.floats(outChannels * channels / group * 9))
            let geometry = try WindowGeometry.forward(
                input: [extent, extent], kernel: [3, 3], strides: nil, dilations: nil, pads: [1, 1, 1, 1], autoPad: .notSet)
            var output = Tensor(zeros: [1, outChannels, extent, extent], dtype: .float32)
            let flops = 2.0 * Double(outChannels * channels / group * 9 * extent * extent)
            for threads in [1, 2] {
                let seconds = try bestTime(repeats: 5) {
                    try Convolution.conv(input: input, weight: weight, bias: nil, group: group, geometry: geometry, output: &output, threads: threads)
                }
                print(String(format: "Conv 3x3 %d→%d group %d on %dx%d, %d thread(s): %.1f GFLOP/s (%.2f ms)", channels, outChannels, group, extent, extent, threads, flops / seconds / 1e9, seconds * 1e3))
            }
        }
    }
}
