import CKilnKernels
import KilnCore

/// A convolution's GEMM computed transposed: output pixels as the rows (`Cᵀ = colsᵀ · Wᵀ`),
/// then finished into the `channels × pixels` output with the bias, summand and clamp.
///
/// The GEMM's tiles are 6 rows × 32 columns. With few output pixels and many channels (a
/// 7×7 map has 49 pixels: 77 % of the 32-column lanes do work, against 91 % of 6-row panels)
/// the transposed product fills the tiles better; ResNet's last stages and MobileNetV2's
/// 7×7 and 14×14 layers are such products. The choice depends only on the shapes (and a native
/// SGEMM), so every executor makes the same one and computes the same bits.
enum TransposedProduct {
    /// Whether a group's product of `pixels` output pixels, `outChannels` channels and
    /// `depth` products per output runs transposed: when that fills the tiles at least 5 %
    /// better and the depth is enough to pay for the transposing pass (MobileNetV2's 1×1
    /// convolutions over 96–320 channels measured slower transposed).
    static func runs(pixels: Int, outChannels: Int, depth: Int) -> Bool {
        func fill(_ extent: Int, _ tile: Int) -> Double { Double(extent) / Double((extent + tile - 1) / tile * tile) }
        guard NativeKernels.hasFastSgemm, pixels > 0, pixels < 1024, outChannels >= 64, depth >= 512 else { return false }
        let normal = fill(pixels, 32) * fill(outChannels, 6)
        let transposed = fill(pixels, 6) * fill(outChannels, 32)
        return transposed > normal + 0.05
    }

    /// Per group, `weight[g]ᵀ` (`C/group·kernel × M/group`) packed as a GEMM's B.
    static func pack(_ weight: Tensor, group: Int) -> [Gemm.PackedB] {
        let outPerGroup = weight.shape[0] / group
        let depth = weight.shape.dropFirst().reduce(1, *)
        return weight.withUnsafeBufferPointer(as: Float.self) { values in
            guard let base = values.baseAddress else { return [] }
            return (0..<group).map { g in
                Gemm.PackedB(k: depth, n: outPerGroup, b: base + g * outPerGroup * depth, ldb: depth, transB: true)
            }
        }
    }

    /// The convolution (`window` 3-D padded) through transposed products; `packed` (from
    /// ``pack(_:group:)``) replaces the weight values when given.
    static func conv(
        _ input: Tensor, _ weight: Tensor, packed: [Gemm.PackedB]?, _ bias: Tensor?, _ group: Int, _ window: WindowGeometry,
        _ output: inout Tensor, clamp: (lower: Float, upper: Float), accumulate: Bool, threads: Int
    ) {
        let (groupChannels, groupOutChannels) = (input.shape[1] / group, weight.shape[0] / group)
        let pixels = Tensor.elementCount(window.output)
        let depth = groupChannels * Tensor.elementCount(window.kernel)
        let isPointwise = Convolution.isPointwise(window)
        let packed = packed.flatMap { $0.count == group && $0[0].k == depth && $0[0].n == groupOutChannels ? $0 : nil }
        let columns = UnsafeMutablePointer<Float>.allocate(capacity: isPointwise ? 1 : depth * pixels)
        let product = UnsafeMutablePointer<Float>.allocate(capacity: pixels * groupOutChannels)
        defer {
            columns.deallocate()
            product.deallocate()
        }
        Convolution.forEachGroup(input, weight, bias, group: group, window: window, output: &output) {
            g, source, weights, groupBias, target in
            // colsᵀ: the column matrix (depth × pixels) read transposed.
            let matrix = isPointwise
                ? source : Im2Col.filled(columns, from: source, channels: groupChannels, window: window, threads: threads)
            if let packed {
                Gemm.multiply(
                    m: pixels, alpha: 1, a: matrix, lda: pixels, transA: true, packed: packed[g], beta: 0,
                    c: product, ldc: groupOutChannels, threads: threads)
            } else {
                Gemm.multiply(
                    m: pixels, n: groupOutChannels, k: depth, alpha: 1, a: matrix, lda: pixels, transA: true,
                    b: weights, ldb: depth, transB: true, beta: 0, c: product, ldc: groupOutChannels, epilogue: .none,
                    threads: threads)
            }
            Parallel.forEach(groupOutChannels, threads: threads, grain: 64) { rows in
                ckiln_transposed_epilogue(
                    rows.count, pixels, product + rows.lowerBound, groupOutChannels, target + rows.lowerBound * pixels,
                    pixels, groupBias.map { $0 + rows.lowerBound }, clamp.lower, clamp.upper, accumulate ? 1 : 0)
            }
        }
    }
}
