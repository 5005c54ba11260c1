import KilnCore

extension Convolution {
    /// A float32 convolution with packed weights whose path, geometry and epilogue are
    /// resolved once from its shapes, run on raw buffers: what a plan step calls, with no
    /// attribute decoding, shape checks or allocation per run.
    ///
    /// Only the paths that dominate small networks are prepared: the direct kernels, and
    /// pointwise (1×1, stride 1, unpadded, one group) convolutions as one packed GEMM per
    /// image, as ``floatPath(channels:weight:group:geometry:)`` picks them for `convFloat`.
    /// They make exactly the calls ``conv(input:packed:bias:geometry:output:lower:upper:accumulate:threads:)``
    /// makes for the same shapes, so the results are the same bits; other shapes get `nil`.
    package struct Prepared: Sendable {
        private enum Path: Sendable {
            case direct([Float])
            case blocked([Float])
            case pointwise(Gemm.PackedA)
        }

        private let path: Path
        private let window: WindowGeometry
        private let batch: Int
        private let channels: Int
        private let outChannels: Int
        private let inputPixels: Int
        private let outputPixels: Int
        private let clamp: (lower: Float, upper: Float)
        private let accumulate: Bool

        /// The prepared form of a convolution of `input` (`N × C × spatial…`) with `packed`
        /// weights over `geometry`, or `nil` when its shapes take another path.
        package init?(
            input: [Int], packed: PackedWeights, geometry: WindowGeometry, lower: Float, upper: Float, accumulate: Bool
        ) {
            let weight = packed.weight.shape
            guard input.count >= 3, input.count == weight.count, (try? validate(
                input: input, weight: weight, bias: nil, group: packed.group, geometry: geometry)) != nil,
                geometry.rank <= 3
            else { return nil }
            let window = geometry.padded3D
            let (channels, outChannels, group) = (input[1], weight[0], packed.group)
            switch floatPath(channels: channels, weight: weight, group: group, geometry: geometry) {
            case .direct:
                guard let direct = packed.direct else { return nil }
                path = .direct(direct)
            case .blocked:
                guard let blocked = packed.blocked else { return nil }
                path = .blocked(blocked)
            case .gemm(pointwise: true) where group == 1 && packed.groups.count == 1:
                path = .pointwise(packed.groups[0])
            default:
                return nil
            }
            self.window = window
            batch = input[0]
            self.channels = channels
            self.outChannels = outChannels
            inputPixels = Tensor.elementCount(window.input)
            outputPixels = Tensor.elementCount(window.output)
            clamp = (lower, upper)
            self.accumulate = accumulate
        }

        /// `output = clamp(conv(input) + bias (+ output when accumulating))`; `bias` has one
        /// value per output channel.
        package func run(
            _ input: UnsafePointer<Float>, bias: UnsafePointer<Float>?, _ output: UnsafeMutablePointer<Float>, threads: Int
        ) {
            switch path {
            case .direct(let weights):
                weights.withUnsafeBufferPointer { w in
                    DirectConvolution.run(
                        input, channels: channels, batch: batch, packed: w.baseAddress!, outChannels: outChannels, bias: bias,
                        window: window, output: output, clamp: clamp, accumulate: accumulate, threads: threads)
                }
            case .blocked(let weights):
                weights.withUnsafeBufferPointer { w in
                    BlockedConvolution.run(
                        input, channels: channels, batch: batch, packed: w.baseAddress!, outChannels: outChannels, bias: bias,
                        window: window, output: output, clamp: clamp, accumulate: accumulate, threads: threads)
                }
            case .pointwise(let packed):
                let epilogue = GemmEpilogue(bias: bias.map { .row($0) } ?? .none, lower: clamp.lower, upper: clamp.upper)
                for image in 0..<batch {
                    Gemm.multiply(
                        packed: packed, n: outputPixels, b: input + image * channels * inputPixels, ldb: outputPixels,
                        transB: false, beta: accumulate ? 1 : 0, c: output + image * outChannels * outputPixels,
                        ldc: outputPixels, epilogue: epilogue, threads: threads)
                }
            }
        }
    }
}
