import CKilnKernels
import KilnCore

/// The DPU emulator's int8 NHWC kernels around the exact GEMM, in native code: im2col of a
/// feature map, depthwise sums, max pooling, the requantizing output stage, the element-wise
/// add and the quantization of float inputs.
///
/// All integer arithmetic, so every instruction set computes the same bytes. Feature maps are
/// `images × height × width × channels` int8; output pixel `p` is `(image, oy, ox)` with
/// `p = (image · outHeight + oy) · outWidth + ox`. Each call takes the instruction set to use
/// (read ``NativeKernels/activeISA`` on the calling task, before splitting over threads).
package enum NativeInt8NHWC {
    /// A convolution or pool window: output `(oy, ox)`, tap `(ky, kx)` reads the virtual
    /// input position `(oy·strideY + ky·dilationY − padY, ox·strideX + kx·dilationX − padX)`
    /// of the input upsampled by `(upY, upX)` (zeros between pixels); zero outside.
    package struct Window: Sendable {
        var raw: ckiln_window

        package init(
            inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int, kernelHeight: Int, kernelWidth: Int,
            strideY: Int, strideX: Int, dilationY: Int, dilationX: Int, padY: Int, padX: Int, upY: Int, upX: Int
        ) {
            raw = ckiln_window(
                in_h: inHeight, in_w: inWidth, out_h: outHeight, out_w: outWidth, k_h: kernelHeight,
                k_w: kernelWidth, stride_h: strideY, stride_w: strideX, dilation_h: dilationY, dilation_w: dilationX,
                pad_h: padY, pad_w: padX, up_h: upY, up_w: upX)
        }

        /// Taps of the window (kernel height × width).
        package var taps: Int { raw.k_h * raw.k_w }
    }

    /// im2col rows of output pixels `pixels`: row `r` (at `columns + r · k`, `k = kh · kw ·
    /// channels`) holds, per tap, the first `channels` of the tap's `inChannels` values.
    package static func im2col(
        isa: NativeKernels.ISA, window: Window, input: UnsafePointer<Int8>, inChannels: Int, channels: Int,
        pixels: Range<Int>, columns: UnsafeMutablePointer<Int8>
    ) {
        withUnsafePointer(to: window.raw) { w in
            ckiln_i8_im2col_nhwc(
                isa.rawValue, w, input, inChannels, channels, pixels.lowerBound, pixels.upperBound, columns)
        }
    }

    /// Max pooling of output pixels `pixels` over `n` channels: `out[r · ldo + j]` = the
    /// largest `input[tap pixel · inChannels + j]` of the in-bounds taps (`input` offset to
    /// the first channel), −128 when none.
    package static func maxPool(
        isa: NativeKernels.ISA, window: Window, input: UnsafePointer<Int8>, inChannels: Int, n: Int,
        pixels: Range<Int>, out: UnsafeMutablePointer<Int8>, ldo: Int
    ) {
        withUnsafePointer(to: window.raw) { w in
            ckiln_i8_maxpool_nhwc(isa.rawValue, w, input, inChannels, n, pixels.lowerBound, pixels.upperBound, out, ldo)
        }
    }

    /// The requantizing output stage of a convolution: `y = clamp((acc + offsets[j]) >> shift,
    /// lower, upper)` for column `j` (arithmetic shift); `acc + offsets` must stay in Int32,
    /// `lower` and `upper` in Int8.
    package struct Stage {
        var raw: ckiln_i8_stage

        /// `offsets` must outlive the calls the stage is passed to.
        package init(offsets: UnsafePointer<Int32>, shift: Int, lower: Int32, upper: Int32) {
            raw = ckiln_i8_stage(offsets: offsets, shift: Int32(shift), lower: lower, upper: upper)
        }
    }

    /// Depthwise sums of output pixels `pixels` over `n` channels: `sums[r · lds + j] =
    /// Σ_taps input[tap pixel · inChannels + j] · weights[tap · weightStride + j]` (`input`
    /// and `weights` offset to the first channel; taps in the padding skipped). With a
    /// `stage` (offsets at the first channel), `out[r · ldo + j]` gets the stage of each sum
    /// instead, `sums` then only scratch.
    package static func depthwise(
        isa: NativeKernels.ISA, window: Window, input: UnsafePointer<Int8>, inChannels: Int,
        weights: UnsafePointer<Int16>, weightStride: Int, n: Int, pixels: Range<Int>,
        sums: UnsafeMutablePointer<Int32>, lds: Int, stage: Stage?, out: UnsafeMutablePointer<Int8>?, ldo: Int
    ) {
        withUnsafePointer(to: window.raw) { w in
            if var raw = stage?.raw {
                ckiln_i8_depthwise_nhwc(
                    isa.rawValue, w, input, inChannels, weights, weightStride, n, pixels.lowerBound,
                    pixels.upperBound, sums, lds, &raw, out, ldo)
            } else {
                ckiln_i8_depthwise_nhwc(
                    isa.rawValue, w, input, inChannels, weights, weightStride, n, pixels.lowerBound,
                    pixels.upperBound, sums, lds, nil, nil, 0)
            }
        }
    }

    /// `out[r · ldo + j] = stage(acc[r · lda + j])` for `r < rows`, `j < n`.
    package static func requantize(
        isa: NativeKernels.ISA, rows: Int, n: Int, acc: UnsafePointer<Int32>, lda: Int, stage: Stage,
        out: UnsafeMutablePointer<Int8>, ldo: Int
    ) {
        withUnsafePointer(to: stage.raw) { raw in
            ckiln_i8_requantize(isa.rawValue, rows, n, acc, lda, raw, out, ldo)
        }
    }

    /// `out[i] = clamp((a[i] << shiftA + b[i] << shiftB + half) >> shift, lower, upper)`,
    /// `shiftA` and `shiftB` at most 16.
    package static func add(
        isa: NativeKernels.ISA, count: Int, a: UnsafePointer<Int8>, shiftA: Int32, b: UnsafePointer<Int8>,
        shiftB: Int32, half: Int32, shift: Int32, lower: Int32, upper: Int32, out: UnsafeMutablePointer<Int8>
    ) {
        ckiln_i8_add(isa.rawValue, count, a, shiftA, b, shiftB, half, shift, lower, upper, out)
    }

    /// `out[i] = FixedPoint.quantize(input[i], fixPosition:, mode:)` as Int8: the same double
    /// operations, vectorized.
    package static func quantize(
        isa: NativeKernels.ISA, _ input: UnsafeBufferPointer<Float>, fixPosition: Int, mode: RoundMode,
        into out: UnsafeMutablePointer<Int8>
    ) {
        guard let base = input.baseAddress else { return }
        let native: Int32
        switch mode {
        case .halfUp: native = Int32(CKILN_ROUND_HALF_UP)
        case .halfToEven: native = Int32(CKILN_ROUND_HALF_EVEN)
        case .halfAwayFromZero: native = Int32(CKILN_ROUND_HALF_AWAY)
        }
        ckiln_i8_quantize(isa.rawValue, input.count, base, Int32(fixPosition), native, out)
    }
}
