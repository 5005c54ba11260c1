import CKilnKernels
import Foundation
import KilnCore
import KilnKernels

/// `kiln-microbench`: SGEMM, convolution and int8 GEMM throughput against this CPU's FMA peak.
///
/// Build and run in release (`swift build -c release --product kiln-microbench`); best of
/// several runs per case, at 1 and 2 threads. The FMA peak of each vector instruction set
/// is measured (independent FMAs, `ckiln_fma_peak_flops`); the float kernels run under every
/// vector ISA the CPU has (AVX2, AVX-512), side by side, with % of the widest one's peak.
/// Prints a table; measures nothing else.
@main
struct Microbench {
    static func main() throws {
        let nominal = cpuGHz()
        let clock = measuredGHz()
        let isa = NativeKernels.cpuISA
        print(String(format: "CPU clock: %.3f GHz measured (dependent-add chain), %.3f GHz nominal (/proc/cpuinfo); native ISA %@", clock, nominal, "\(isa)"))
        let compared = [NativeKernels.ISA.avx2, .avx512].filter { $0 <= isa }
        let isas = compared.isEmpty ? [isa] : compared
        var peaks: [Double] = []
        for isa in isas {
            let peak = measuredPeak(isa)
            peaks.append(peak)
            let perCycle = clock > 0 ? peak / clock : 0
            print(String(format: "FMA peak %@: %.1f GFLOP/s per core measured (%.1f flop/cycle)", name(isa), peak, perCycle))
        }
        // The reference for "% peak": the widest ISA's measured peak, times threads.
        let top = peaks.last ?? 0
        print("")
        var header = pad("kernel", 40) + pad("threads", 8)
        for isa in isas {
            let title = "\(name(isa)) GFLOP/s  % peak"
            header += String(repeating: " ", count: max(0, 26 - title.count)) + title + "  "
        }
        print(header + (isas.count > 1 ? "gain    ms" : "ms"))
        for size in [256, 512, 1024] {
            for threads in [1, 2] {
                let seconds = isas.map { isa in NativeKernels.withISA(isa) { sgemm(size: size, threads: threads) } }
                report("SGEMM \(size)³", threads, flops: 2 * pow(Double(size), 3), seconds, peak: top)
            }
        }
        for size in [512] {
            for threads in [1, 2] {
                let seconds = sgemm(size: size, threads: threads, portable: true)
                report("SGEMM \(size)³ (portable Swift)", threads, flops: 2 * pow(Double(size), 3), [seconds], peak: top)
            }
        }
        for layer in ConvLayer.resnet50 + ConvLayer.mobilenet {
            for threads in [1, 2] {
                let seconds = try isas.map { isa in try NativeKernels.withISA(isa) { try conv(layer, threads: threads) } }
                report(layer.name, threads, flops: layer.flops, seconds, peak: top)
            }
        }
        print("")
        print("int8 GEMM (exact)                        threads   GOP/s")
        for size in [256, 512, 1024] {
            for threads in [1, 2] {
                let seconds = int8(size: size, threads: threads)
                let ops = 2 * pow(Double(size), 3)
                print(pad("int8 \(size)³ packed B", 40) + pad("\(threads)", 8) + String(format: "%8.1f   %.2f ms", ops / seconds / 1e9, seconds * 1e3))
            }
        }
    }

    static func name(_ isa: NativeKernels.ISA) -> String {
        switch isa {
        case .portable: return "portable"
        case .avx2: return "AVX2"
        case .avx512, .avx512VNNI: return "AVX-512"
        }
    }

    /// One core's FMA peak (GFLOP/s) with `isa`'s vectors: the best of many short timed runs
    /// of independent FMAs (short, so that on a shared machine some run without preemption).
    static func measuredPeak(_ isa: NativeKernels.ISA) -> Double {
        let iterations: UInt64 = 50_000
        var best = Double.infinity
        var flops = 0.0
        for _ in 0..<200 {
            let start = DispatchTime.now().uptimeNanoseconds
            flops = ckiln_fma_peak_flops(isa.rawValue, iterations)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start))
        }
        return flops / best
    }

    /// The clock from /proc/cpuinfo's first `cpu MHz` line (GHz); 0 when absent.
    static func cpuGHz() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("cpu MHz") {
            if let value = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
                return value / 1000
            }
        }
        return 0
    }

    /// The core clock in GHz, from the best of many short timed chains of one-cycle dependent
    /// adds (short, so that on a shared machine some run without being preempted).
    static func measuredGHz() -> Double {
        let iterations: UInt64 = 100_000
        var best = Double.infinity
        for _ in 0..<200 {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = ckiln_dependent_adds(iterations)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start))
        }
        return Double(iterations) * 64 / best
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    /// One row: GFLOP/s and % of `peak` (one core's, times threads) per ISA column, the gain
    /// of the last column over the first, and the last column's time.
    static func report(_ name: String, _ threads: Int, flops: Double, _ seconds: [Double], peak: Double) {
        var line = pad(name, 40) + pad("\(threads)", 8)
        for time in seconds {
            let rate = flops / time / 1e9
            let share = peak > 0 ? 100 * rate / (Double(threads) * peak) : 0
            line += pad(String(format: "%17.1f  %5.1f %%", rate, share), 28)
        }
        if seconds.count > 1, let first = seconds.first, let last = seconds.last {
            line += String(format: "%.2f×  ", first / last)
        }
        print(line + String(format: "%.2f", (seconds.last ?? 0) * 1e3))
    }

    /// Best wall time of enough runs to fill about half a second (at least 3).
    static func best(_ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        var total = 0.0
        var runs = 0
        try body()  // warm-up: scratch buffers, page faults
        while runs < 3 || (total < 0.5 && runs < 200) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            best = min(best, elapsed)
            total += elapsed
            runs += 1
        }
        return best
    }

    static func randomFloats(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1) } }

    static func sgemm(size: Int, threads: Int, portable: Bool = false) -> Double {
        let a = randomFloats(size * size)
        let b = randomFloats(size * size)
        var c = [Float](repeating: 0, count: size * size)
        return c.withUnsafeMutableBufferPointer { out in
            best {
                if portable {
                    Gemm.portableMultiply(
                        m: size, n: size, k: size, alpha: 1, a: a, lda: size, transA: false, b: b, ldb: size, transB: false,
                        beta: 0, c: out.baseAddress!, ldc: size, threads: threads)
                } else {
                    Gemm.multiply(
                        m: size, n: size, k: size, alpha: 1, a: a, lda: size, transA: false, b: b, ldb: size, transB: false,
                        beta: 0, c: out.baseAddress!, ldc: size, threads: threads)
                }
            }
        }
    }

    static func int8(size: Int, threads: Int) -> Double {
        let a = (0..<(size * size)).map { _ in Int8.random(in: .min ... .max) }
        let b = (0..<(size * size)).map { _ in Int8.random(in: .min ... .max) }
        let packed = NativeInt8GEMM.PackedB(k: size, n: size, b: b, ldb: size)
        var c = [Int32](repeating: 0, count: size * size)
        return c.withUnsafeMutableBufferPointer { out in
            best { NativeInt8GEMM.multiply(m: size, a: a, lda: size, packed: packed, c: out.baseAddress!, ldc: size, threads: threads) }
        }
    }

    static func conv(_ layer: ConvLayer, threads: Int) throws -> Double {
        let input = Tensor(shape: [1, layer.channels, layer.extent, layer.extent], scalars: randomFloats(layer.channels * layer.extent * layer.extent))
        let weightShape = [layer.outChannels, layer.channels / layer.group, layer.kernel, layer.kernel]
        let weight = Tensor(shape: weightShape, scalars: randomFloats(weightShape.reduce(1, *)))
        let bias = Tensor(shape: [layer.outChannels], scalars: randomFloats(layer.outChannels))
        let pad = layer.kernel / 2
        let geometry = try WindowGeometry.forward(
            input: [layer.extent, layer.extent], kernel: [layer.kernel, layer.kernel], strides: [layer.stride, layer.stride],
            dilations: nil, pads: [pad, pad, pad, pad], autoPad: .notSet)
        let shape = try Convolution.outputShape(input: input.shape, weight: weight.shape, bias: bias.shape, group: layer.group, geometry: geometry)
        var output = Tensor(zeros: shape, dtype: .float32)
        // Weights packed once for the path this geometry takes, as the executors hold them.
        let packed = try Convolution.PackedWeights(weight: weight, group: layer.group, geometry: geometry)
        return try best {
            try Convolution.conv(
                input: input, packed: packed, bias: bias, geometry: geometry, output: &output, lower: 0, threads: threads)
        }
    }
}

/// One convolution layer (square input and kernel, bias + ReLU fused).
struct ConvLayer {
    var name: String
    var channels: Int
    var outChannels: Int
    var extent: Int
    var kernel: Int
    var stride = 1
    var group = 1

    /// Multiply-adds × 2 (output pixels × out channels × in channels per group × kernel area).
    var flops: Double {
        let out = (extent + 2 * (kernel / 2) - kernel) / stride + 1
        return 2 * Double(out * out * outChannels * (channels / group) * kernel * kernel)
    }

    static let resnet50: [ConvLayer] = [
        ConvLayer(name: "conv1 7×7/2 3→64 @224", channels: 3, outChannels: 64, extent: 224, kernel: 7, stride: 2),
        ConvLayer(name: "res2 1×1 64→64 @56", channels: 64, outChannels: 64, extent: 56, kernel: 1),
        ConvLayer(name: "res2 3×3 64→64 @56", channels: 64, outChannels: 64, extent: 56, kernel: 3),
        ConvLayer(name: "res2 1×1 64→256 @56", channels: 64, outChannels: 256, extent: 56, kernel: 1),
        ConvLayer(name: "res3 3×3 128→128 @28", channels: 128, outChannels: 128, extent: 28, kernel: 3),
        ConvLayer(name: "res3 1×1 512→128 @28", channels: 512, outChannels: 128, extent: 28, kernel: 1),
        ConvLayer(name: "res4 3×3 256→256 @14", channels: 256, outChannels: 256, extent: 14, kernel: 3),
        ConvLayer(name: "res4 1×1 1024→256 @14", channels: 1024, outChannels: 256, extent: 14, kernel: 1),
        ConvLayer(name: "res5 3×3 512→512 @7", channels: 512, outChannels: 512, extent: 7, kernel: 3),
    ]

    static let mobilenet: [ConvLayer] = [
        ConvLayer(name: "dw 3×3 32 @112", channels: 32, outChannels: 32, extent: 112, kernel: 3, group: 32),
        ConvLayer(name: "dw 3×3/2 96 @112", channels: 96, outChannels: 96, extent: 112, kernel: 3, stride: 2, group: 96),
        ConvLayer(name: "dw 3×3 384 @14", channels: 384, outChannels: 384, extent: 14, kernel: 3, group: 384),
    ]
}
