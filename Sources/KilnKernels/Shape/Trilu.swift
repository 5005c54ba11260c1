import KilnCore

/// Trilu over raw bytes: keeps the upper or lower triangle of each trailing matrix and
/// zeroes the rest (a zero element is all-zero bytes in every dtype).
public enum Trilu {
    /// Copies `source` (`batches` matrices of `rows × columns`) into `destination`,
    /// keeping `column - row >= diagonal` (upper) or `column - row <= diagonal` (lower).
    public static func trilu(
        _ source: UnsafeRawPointer, batches: Int, rows: Int, columns: Int, diagonal: Int, upper: Bool,
        elementSize: Int, into destination: UnsafeMutableRawPointer
    ) {
        let rowBytes = columns * elementSize
        for batch in 0..<batches {
            for row in 0..<rows {
                let offset = (batch * rows + row) * rowBytes
                // Kept columns form one range per row.
                let kept: Range<Int>
                if upper {
                    let first = min(max(row + diagonal, 0), columns)
                    kept = first..<columns
                } else {
                    let end = min(max(row + diagonal + 1, 0), columns)
                    kept = 0..<end
                }
                (destination + offset).initializeMemory(as: UInt8.self, repeating: 0, count: rowBytes)
                if !kept.isEmpty {
                    (destination + offset + kept.lowerBound * elementSize).copyMemory(
                        from: source + offset + kept.lowerBound * elementSize,
                        byteCount: kept.count * elementSize)
                }
            }
        }
    }
}
