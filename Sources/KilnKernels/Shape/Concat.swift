import KilnCore

/// Concat and Split over raw bytes. Both view tensors as `[outer, axisDim, inner]`.
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
            if bytes > 0 {
                for row in 0..<outer {
                    (output + row * rowBytes + start).copyMemory(from: input + row * bytes, byteCount: bytes)
                }
            }
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
            if bytes > 0 {
                for row in 0..<outer {
                    (output + row * bytes).copyMemory(from: input + row * rowBytes + start, byteCount: bytes)
                }
            }
            start += bytes
        }
    }
}
