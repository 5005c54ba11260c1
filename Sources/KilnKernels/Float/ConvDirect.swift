import CKilnKernels
import KilnCore

/// Direct float32 convolution (AVX-512): no im2col matrix, the input read in place through a
/// zero-padded copy, 4 output channels × 6 sixteen-pixel vectors per register tile (see
/// `directconv.c`).
///
/// Taken instead of im2col + GEMM for ungrouped convolutions with a spatial window of more
/// than one tap and at most ``maxOutputChannels`` output channels: there the column matrix
/// costs as much to write as the product does to compute (the 7×7/2 stem measured 2.6× and
/// small 3×3 stages 1.5–2.5× faster; at 512 channels the two are level). The choice depends
/// only on shapes and the instruction set, so every executor makes the same one and
/// computes the same bits.
enum DirectConvolution {
    /// Above this many output channels the GEMM's blocking wins.
    static let maxOutputChannels = 128

    /// Whether a weight (`M × C × kH × kW`) with `group` groups is one the direct kernel
    /// takes on some instruction set (its packing is worth keeping).
    static func accepts(weight: [Int], group: Int) -> Bool {
        weight.count == 4 && group == 1 && weight[0] <= maxOutputChannels && weight[2] * weight[3] > 1
    }

    /// Whether the direct kernel runs this convolution now (`window` is the 3-D padded
    /// geometry of ``Convolution``): two spatial axes, AVX-512, and a padded input copy the
    /// kernel's 32-bit tap offsets can address.
    static func runs(weight: [Int], group: Int, window: WindowGeometry) -> Bool {
        accepts(weight: weight, group: group) && addressable(channels: weight[1], window: window)
    }

    /// Whether the zero-padded copy of `channels` input planes that both direct kernels read
    /// exists here: AVX-512, two spatial axes (`window` is the 3-D padded geometry), and
    /// planes the kernels' 32-bit tap offsets can address.
    static func addressable(channels: Int, window: WindowGeometry) -> Bool {
        guard NativeKernels.activeISA >= .avx512, window.kernel[0] == 1, window.input[0] == 1, window.output[0] == 1,
            window.padsBegin[0] == 0
        else { return false }
        let rows = (window.output[1] - 1) * window.strides[1] + (window.kernel[1] - 1) * window.dilations[1] + 1
        let width = window.output[2] + (window.kernel[2] - 1) * window.dilations[2] / window.strides[2]
        return channels * rows * window.strides[2] * width + 16 < Int(Int32.max)
    }

    /// `weight` (`M × K`, K = C·kH·kW) in the kernel's layout.
    static func pack(_ weight: Tensor) -> [Float] {
        packed(weight, count: ckiln_conv_direct_packed_count, pack: ckiln_conv_direct_pack)
    }

    /// `output[image] = clamp(conv(input[image]) (+ output[image] when accumulating) + bias)`
    /// for every image, with weights packed by ``pack(_:)``.
    static func run(
        _ input: UnsafePointer<Float>, channels: Int, batch: Int, packed: UnsafePointer<Float>, outChannels: Int,
        bias: UnsafePointer<Float>?, window: WindowGeometry, output: UnsafeMutablePointer<Float>,
        clamp: (lower: Float, upper: Float), accumulate: Bool, threads: Int
    ) {
        run(
            ckiln_conv2d_direct, named: "direct", input, channels: channels, batch: batch, packed: packed,
            outChannels: outChannels, bias: bias, window: window, output: output, clamp: clamp, accumulate: accumulate,
            threads: threads)
    }

    /// `weight` (`M × K`) in a layout of channel blocks, through its C packer.
    static func packed(
        _ weight: Tensor, count: (Int, Int) -> Int,
        pack: (UnsafePointer<Float>?, Int, Int, UnsafeMutablePointer<Float>?) -> Void
    ) -> [Float] {
        let m = weight.shape[0]
        let k = weight.count / max(m, 1)
        return weight.withUnsafeBufferPointer(as: Float.self) { w in
            [Float](unsafeUninitializedCapacity: count(m, k)) { packed, initialized in
                if let source = w.baseAddress, let target = packed.baseAddress { pack(source, m, k, target) }
                initialized = packed.count
            }
        }
    }

    /// A C direct-convolution entry point (`ckiln_conv2d_direct`, `ckiln_conv2d_blocked`: the same
    /// arguments, their own weight layouts).
    typealias Kernel = (
        Int32, Int32, UnsafePointer<Float>?, Int, Int, Int, UnsafePointer<Float>?, Int, Int, Int, Int, Int, Int, Int,
        Int, Int, UnsafePointer<Float>?, Float, Float, Int32, UnsafeMutablePointer<Float>?, Int, Int
    ) -> Int32

    /// Runs `kernel` on every image of `input` (NCHW) over `window` (the 3-D padded geometry).
    static func run(
        _ kernel: Kernel, named name: String, _ input: UnsafePointer<Float>, channels: Int, batch: Int,
        packed: UnsafePointer<Float>, outChannels: Int, bias: UnsafePointer<Float>?, window: WindowGeometry,
        output: UnsafeMutablePointer<Float>, clamp: (lower: Float, upper: Float), accumulate: Bool, threads: Int
    ) {
        let (inH, inW) = (window.input[1], window.input[2])
        let (outH, outW) = (window.output[1], window.output[2])
        let isa = NativeKernels.activeISA.rawValue
        for image in 0..<batch {
            let status = kernel(
                isa, Int32(threads), input + image * channels * inH * inW, channels, inH, inW, packed, outChannels,
                window.kernel[1], window.kernel[2], window.strides[1], window.strides[2], window.dilations[1],
                window.dilations[2], window.padsBegin[1], window.padsBegin[2], bias, clamp.lower, clamp.upper,
                accumulate ? 1 : 0, output + image * outChannels * outH * outW, outH, outW)
            precondition(status == 0, "\(name) convolution failed (\(status)): out of memory or no AVX-512")
        }
    }
}
