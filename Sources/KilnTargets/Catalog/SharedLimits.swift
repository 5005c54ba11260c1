/// Limits UG1414 v3.5 states once for every DPU, used by the family files.
enum SharedLimits {
    /// Bilinear resize maps to the DPU only as `align_corners=false` with
    /// `half_pixel_centers=false` and scale 2, 4 or 8, or `half_pixel_centers=true` and
    /// scale 2 or 4 (UG1414 Tables 29/30, the framework-op mapping).
    static let bilinearCases = [
        BilinearCase(alignCorners: false, halfPixelCenters: false, scales: [2, 4, 8]),
        BilinearCase(alignCorners: false, halfPixelCenters: true, scales: [2, 4]),
    ]

    /// conv2d padding: `[0, (k−1)·dilation]` on every DPU.
    static let convPadding = PaddingLimit(scalesWithDilation: true)

    /// Padding of the ALU-engine ops of DPUCZDX8G, DPUCVDX8G and DPUCV2DX8G
    /// (depthwise conv): `[0, min(k−1, 15)·dilation]`.
    static let aluPadding = PaddingLimit(cap: 15, scalesWithDilation: true)

    /// Pooling and depthwise transposed conv on the same DPUs: `[0, min(k−1, 15)]`.
    static let aluWindowPadding = PaddingLimit(cap: 15)

    /// transposed-conv2d, every DPU: `k/s ∈ [1, 16]`, pad `[0, k−1]`, `oc ≤ 256·cp`,
    /// activations as conv2d.
    static func transposedConv(channelParallel: Int, activations: Set<Activation>) -> WindowLimits {
        WindowLimits(
            kernelOverStride: .range(IntRange(1, 16)), padding: PaddingLimit(), activations: activations,
            constraints: [.outputChannels(max: 256 * channelParallel)])
    }

    /// reorg, every DPU: `stride²·ic ≤ 256·cp` forward, `ic ≤ 256·cp` reverse.
    static func reorg(channelParallel: Int) -> ReorgLimits {
        ReorgLimits(
            forward: [.strideSquaredTimesInputChannels(max: 256 * channelParallel)],
            reverse: [.inputChannels(max: 256 * channelParallel)])
    }

    /// pad, every DPU: zero-constant (fused) and symmetric, `ic ≤ 256·cp`; REFLECT is not
    /// supported.
    static func pad(channelParallel: Int) -> PadLimits {
        PadLimits(modes: [.constantZero, .symmetric], constraints: [.inputChannels(max: 256 * channelParallel)])
    }
}
