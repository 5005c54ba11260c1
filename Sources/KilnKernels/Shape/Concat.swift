import CKilnKernels
import KilnCore

/// Concat and Split over raw bytes. Both view tensors as `[outer, axisDim, inner]` and copy
/// one operand row per outer index (`ckiln_copy_rows`: short rows as single masked moves).
public enum Concat {
    /// Concatenates `inputs` along an axis. Input `k` is `[outer, axisDims[k], inner]`;
    /// the output is `[outer, Σ axisDims, inner]`.
    public static func concat(
        _ inputs: [UnsafeRawPointer], axisDims: [Int], outer: Int, inner: Int, elementSize: Int,
        into output: UnsafeMutableRawPointer
    ) {
        let total = axisDims.reduce(0, +)
        let rowBytes = total * inner * elementSize
        var start = 0
        for (input, dim) in zip(inputs, axisDims) {
            let bytes = dim * inner * elementSize
            ckiln_copy_rows(NativeKernels.activeISA.rawValue, output + start, rowBytes, input, bytes, bytes, outer)
            start += bytes
        }
    }

    /// Splits `input` (`[outer, Σ axisDims, inner]`) into `outputs`, output `k` being
    /// `[outer, axisDims[k], inner]`.
    public static func split(
        _ input: UnsafeRawPointer, axisDims: [Int], outer: Int, inner: Int, elementSize: Int,
        into outputs: [UnsafeMutableRawPointer]
    ) {
        let total = axisDims.reduce(0, +)
        let rowBytes = total * inner * elementSize
        var start = 0
        for (output, dim) in zip(outputs, axisDims) {
            let bytes = dim * inner * elementSize
            ckiln_copy_rows(NativeKernels.activeISA.rawValue, output, bytes, input + start, rowBytes, bytes, outer)
            start += bytes
        }
    }
}
