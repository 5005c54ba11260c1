import KilnCore

/// OneHot over raw bytes (the on/off values may be any dtype).
public enum OneHot {
    /// Writes `[outer, depth, inner]`: `on` where the depth position equals the index of
    /// `(outer, inner)`, `off` elsewhere.
    ///
    /// - Parameters:
    ///   - indices: `outer * inner` indices, negative ones already shifted by `depth`;
    ///     out-of-range indices give an all-`off` line.
    ///   - off: one element's bytes.
    ///   - on: one element's bytes.
    public static func oneHot(
        indices: [Int], outer: Int, depth: Int, inner: Int, off: [UInt8], on: [UInt8], elementSize: Int,
        into destination: UnsafeMutableRawPointer
    ) {
        let total = outer * depth * inner
        off.withUnsafeBytes { offBytes in
            on.withUnsafeBytes { onBytes in
                guard let offPointer = offBytes.baseAddress, let onPointer = onBytes.baseAddress else { return }
                for element in 0..<total {
                    (destination + element * elementSize).copyMemory(from: offPointer, byteCount: elementSize)
                }
                for o in 0..<outer {
                    for i in 0..<inner {
                        let index = indices[o * inner + i]
                        guard index >= 0, index < depth else { continue }
                        let target = (o * depth + index) * inner + i
                        (destination + target * elementSize).copyMemory(from: onPointer, byteCount: elementSize)
                    }
                }
            }
        }
    }
}
