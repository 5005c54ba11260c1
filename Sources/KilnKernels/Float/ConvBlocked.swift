import CKilnKernels
import KilnCore

/// Channel-blocked direct float32 convolution (AVX-512): 16 output channels per register,
/// up to 4 blocks × a run of 14 outputs of one row per tile, the same zero-padded input as
/// ``DirectConvolution`` read by broadcasts (see `blockedconv.c`).
///
/// Taken for ungrouped 2-D convolutions with a multiple of 16 output channels, at least
/// ``minOutputChannels``, and at least ``minChannels`` input channels. Pointwise ones (1×1, stride 1, unpadded: the
/// input already is the GEMM's operand, and the kernel reads it in place) only with at
/// least ``minPointwiseChannels`` input channels or at most ``maxPointwisePixels`` output
/// pixels: with few taps a tile's transposing store weighs, and on large images the GEMM's
/// wide tiles win. Against the pixel-vectorized direct kernel and im2col + GEMM on this CPU
/// (Zen 5, one thread): ResNet's 3×3 stages 1.15× (56², 64 channels) to 1.3× (7², 512
/// channels) faster, strided 3×3 and 1×1 downsampling 1.2–2×, pointwise 7×7 layers
/// 1.2–1.4× and 14×14 ones with 256+ input channels 1.05–1.2×; the 3-channel 7×7/2 stem
/// stays on the direct kernel, 7 % faster there. The choice depends only on shapes and the
/// instruction set, so every executor makes the same one.
enum BlockedConvolution {
    /// Fewer input channels than this (stems): the pixel-vectorized kernel wins.
    static let minChannels = 8
    /// Fewer output channels than this: one or two blocks leave the threads only rows to
    /// share, and on the small images such layers have the pixel-vectorized kernel (one
    /// fork with private padded copies) was up to 20 % faster at two threads.
    static let minOutputChannels = 64
    /// Pointwise convolutions with this many input channels or more take the blocked kernel.
    static let minPointwiseChannels = 192
    /// Pointwise convolutions with at most this many output pixels take the blocked kernel.
    static let maxPointwisePixels = 64

    /// Whether a weight (`M × C × kH × kW`) with `group` groups is one the blocked kernel
    /// takes on some instruction set and geometry.
    static func accepts(weight: [Int], group: Int) -> Bool {
        weight.count == 4 && group == 1 && weight[0] >= minOutputChannels && weight[0] % 16 == 0
            && weight[1] >= minChannels
    }

    /// Whether the blocked kernel runs this convolution now (`window` is the 3-D padded
    /// geometry of ``Convolution``): AVX-512, two spatial axes, a pointwise one only as the
    /// type says, and a padded input the kernel's 32-bit tap offsets can address.
    static func runs(weight: [Int], group: Int, window: WindowGeometry) -> Bool {
        guard accepts(weight: weight, group: group) else { return false }
        if Convolution.isPointwise(window) {
            let pixels = window.output.reduce(1, *)
            guard weight[1] >= minPointwiseChannels || pixels <= maxPointwisePixels else { return false }
        }
        return DirectConvolution.addressable(channels: weight[1], window: window)
    }

    /// `weight` (`M × K`, K = C·kH·kW) in the kernel's layout.
    static func pack(_ weight: Tensor) -> [Float] {
        DirectConvolution.packed(weight, count: ckiln_conv_blocked_packed_count, pack: ckiln_conv_blocked_pack)
    }

    /// `output[image] = clamp(conv(input[image]) (+ output[image] when accumulating) + bias)`
    /// for every image, with weights packed by ``pack(_:)``.
    static func run(
        _ input: UnsafePointer<Float>, channels: Int, batch: Int, packed: UnsafePointer<Float>, outChannels: Int,
        bias: UnsafePointer<Float>?, window: WindowGeometry, output: UnsafeMutablePointer<Float>,
        clamp: (lower: Float, upper: Float), accumulate: Bool, threads: Int
    ) {
        DirectConvolution.run(
            ckiln_conv2d_blocked, named: "blocked", input, channels: channels, batch: batch, packed: packed,
            outChannels: outChannels, bias: bias, window: window, output: output, clamp: clamp, accumulate: accumulate,
            threads: threads)
    }
}
