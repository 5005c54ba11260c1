import KilnCore

/// How Pad fills the border.
public enum PadMode: String, Sendable {
    /// A constant value.
    case constant
    /// Mirror without repeating the edge element (`[a b c] → b [a b c] b`).
    case reflect
    /// Repeat the edge element.
    case edge
    /// Wrap around (`[a b c] → c [a b c] a`).
    case wrap
}

/// Pad over raw bytes (every dtype). Pads may be negative, which crops.
public enum Pad {
    /// For one axis, the source index of each output position, or -1 for the constant.
    ///
    /// - Precondition: `dim > 0` unless `mode == .constant`.
    public static func sourceIndices(dim: Int, begin: Int, end: Int, mode: PadMode) -> [Int] {
        let count = max(0, dim + begin + end)
        return (0..<count).map { position in
            let index = position - begin
            switch mode {
            case .constant:
                return index >= 0 && index < dim ? index : -1
            case .edge:
                return Swift.min(Swift.max(index, 0), dim - 1)
            case .wrap:
                return ((index % dim) + dim) % dim
            case .reflect:
                guard dim > 1 else { return 0 }
                let period = 2 * (dim - 1)
                var folded = Swift.abs(index) % period
                if folded >= dim { folded = period - folded }
                return folded
            }
        }
    }

    /// Pads `source` of `shape`; `pads` is `[begin_0, …, begin_n-1, end_0, …, end_n-1]`.
    ///
    /// - Parameters:
    ///   - constant: the bytes of one element (used by `.constant` mode).
    ///   - destination: room for the padded shape's elements.
    public static func pad(
        _ source: UnsafeRawPointer, shape: [Int], pads: [Int], mode: PadMode, constant: [UInt8],
        elementSize: Int, into destination: UnsafeMutableRawPointer, threads: Int = 1
    ) {
        let rank = shape.count
        precondition(pads.count == 2 * rank, "Pad: pads must have 2 * rank entries")
        let maps = (0..<rank).map {
            sourceIndices(dim: shape[$0], begin: pads[$0], end: pads[$0 + rank], mode: mode)
        }
        Remap.copy(
            source, shape: shape, maps: maps, fill: constant, elementSize: elementSize, into: destination,
            threads: threads)
    }
}
