import KilnCore

extension Convolution {
    /// A float32 convolution weight packed once for the native GEMM (one packed matrix per
    /// group), so a runtime that keeps it skips re-packing the weights on every call.
    /// Depthwise weights (one input channel per group, up to two spatial axes) are kept as
    /// they are: their kernel reads them directly.
    package struct PackedWeights: Sendable {
        /// The original weight (shape, and the values the depthwise kernel reads).
        package let weight: Tensor
        /// The group count the packing is for.
        package let group: Int
        /// Per group, `weight[g]` as an `M/group × C/group·kernel` matrix; empty when another
        /// layout is packed instead (depthwise weights are read as they are).
        let groups: [Gemm.PackedA]
        /// The weight in ``DirectConvolution``'s layout, for the shapes it takes.
        let direct: [Float]?
        /// The weight in ``BlockedConvolution``'s layout, for the shapes it takes.
        let blocked: [Float]?
        /// Per group, `weight[g]ᵀ` packed as the B of a ``TransposedProduct`` (when the output
        /// pixels given at packing call for it).
        let transposed: [Gemm.PackedB]?

        /// Packs `weight` (`M × C/group × kernel…`, float32) for convolutions with `group`
        /// groups, in the layout of the path they take over `geometry` (the convolution's
        /// window, when its input shape is known), else of the path that convolutions with
        /// `outputPixels` output pixels per image take (unknown: the GEMM's).
        ///
        /// - Throws: `shapeMismatch` for a weight of another dtype, rank < 3 or a group count
        ///   that does not divide its output channels.
        package init(weight: Tensor, group: Int, outputPixels: Int? = nil, geometry: WindowGeometry? = nil) throws {
            guard weight.dtype == .float32, weight.rank >= 3, group > 0, weight.shape[0] % group == 0 else {
                throw KilnError(.shapeMismatch, "cannot pack Conv weight \(weight.dtype)\(weight.shape) for group \(group)")
            }
            self.weight = weight
            self.group = group
            let outPerGroup = weight.shape[0] / group
            let depth = weight.shape.dropFirst().reduce(1, *)
            // The condition under which `convFloat` takes the depthwise kernel.
            let isDepthwise = weight.shape[1] == 1 && weight.rank <= 4
            // One layout, in `convFloat`'s order of preference (a path that does not run after
            // all — another instruction set, other shapes — takes the weight unpacked).
            let avx512 = NativeKernels.activeISA >= .avx512
            let kernelTaps = weight.shape.dropFirst(2).reduce(1, *)
            let path = geometry.map {
                floatPath(channels: weight.shape[1] * group, weight: weight.shape, group: group, geometry: $0)
            }
            // Without the geometry, a 1×1 weight is taken for a pointwise convolution (the GEMM's).
            let blocks = path.map { $0 == .blocked }
                ?? (BlockedConvolution.accepts(weight: weight.shape, group: group) && avx512 && kernelTaps > 1)
            blocked = blocks ? BlockedConvolution.pack(weight) : nil
            let directs = !blocks && (path.map { $0 == .direct }
                ?? (DirectConvolution.accepts(weight: weight.shape, group: group) && avx512))
            direct = directs ? DirectConvolution.pack(weight) : nil
            let transposes = !isDepthwise && !directs && !blocks
                && (path.map { $0 == .transposedProduct }
                    ?? (outputPixels.map { TransposedProduct.runs(pixels: $0, outChannels: outPerGroup, depth: depth) } == true))
            transposed = transposes ? TransposedProduct.pack(weight, group: group) : nil
            groups = isDepthwise || directs || blocks || transposes ? [] : weight.withUnsafeBufferPointer(as: Float.self) { values in
                guard let base = values.baseAddress else { return [] }
                return (0..<group).map { g in
                    Gemm.PackedA(m: outPerGroup, k: depth, a: base + g * outPerGroup * depth, lda: depth, transA: false)
                }
            }
        }
    }

    /// ``conv(input:weight:bias:group:geometry:output:lower:upper:accumulate:threads:)`` with weights packed
    /// beforehand (float32 only).
    ///
    /// - Throws: `shapeMismatch` when the input, weight, group and bias disagree or the input
    ///   is not float32; `kernelMissing` beyond three spatial axes.
    package static func conv(
        input: Tensor, packed: PackedWeights, bias: Tensor?, geometry: WindowGeometry,
        output: inout Tensor, lower: Float = -.infinity, upper: Float = .infinity, accumulate: Bool = false, threads: Int
    ) throws {
        let weight = packed.weight
        try validate(input: input.shape, weight: weight.shape, bias: bias?.shape, group: packed.group, geometry: geometry)
        guard input.dtype == .float32, bias.map({ $0.dtype == .float32 }) ?? true else {
            throw KilnError(.shapeMismatch, "Conv with packed weights takes float32 operands, got \(input.dtype)")
        }
        guard geometry.rank <= 3 else {
            throw KilnError(.kernelMissing, "[Conv] no kernel for \(geometry.rank) spatial axes")
        }
        convFloat(
            input, weight, packed: packed, bias, packed.group, geometry, &output, clamp: (lower, upper),
            accumulate: accumulate, threads: threads)
    }
}
