/// Where each intermediate tensor of a planned graph lives: an offset in one arena, chosen
/// from the tensors' lifetimes so that tensors never live at once share memory.
///
/// Built by ``MemoryPlanner``; ``GraphExecutor`` follows it, and `kiln show` prints
/// ``arenaBytes`` against ``intermediateBytes``.
public struct MemoryPlan: Sendable, Equatable, Codable {
    /// Where one value lives at run time.
    public enum Placement: Sendable, Equatable, Codable {
        /// In the arena at `offset`, `bytes` long (64-byte aligned); `inPlace` when the
        /// buffer was first written by an earlier step (an elementwise op overwrites its input).
        case arena(offset: Int, bytes: Int, inPlace: Bool)
        /// A view of its input's memory (Reshape, Flatten, Squeeze, Unsqueeze, Identity).
        case alias
        /// A fresh tensor per run, owned by the caller afterwards (graph outputs), or memory
        /// the plan does not manage (accelerator outputs, unknown shapes).
        case heap
    }

    /// The arena's size in bytes.
    public let arenaBytes: Int
    /// The sum of the byte sizes of every intermediate tensor (node outputs that are not
    /// graph outputs nor aliases): what the run would allocate without a plan.
    public let intermediateBytes: Int
    /// Intermediate tensors in the plan.
    public let intermediateCount: Int
    /// Of those, the ones written in place over their input.
    public let inPlaceCount: Int
    /// Values that alias their input.
    public let aliasCount: Int
    /// Intermediate values left out of the arena (unknown shape or dtype, accelerator outputs).
    public let unplannedCount: Int

    /// JSON keys (snake case, as the CLI's other documents).
    enum CodingKeys: String, CodingKey {
        case arenaBytes = "arena_bytes", intermediateBytes = "intermediate_bytes"
        case intermediateCount = "intermediate_count", inPlaceCount = "in_place_count", aliasCount = "alias_count"
        case unplannedCount = "unplanned_count"
    }

    /// `arenaBytes / intermediateBytes` (1 when there is nothing to plan).
    public var ratio: Double {
        intermediateBytes == 0 ? 1 : Double(arenaBytes) / Double(intermediateBytes)
    }

    /// `arena 131072 bytes for 401536 bytes of 21 intermediate tensors (32.6%), 7 in place, …`.
    public var summary: String {
        String(
            format: "arena %d bytes for %d bytes of %d intermediate tensors (%.1f%%), %d in place, %d aliases, %d unplanned",
            arenaBytes, intermediateBytes, intermediateCount, ratio * 100, inPlaceCount, aliasCount, unplannedCount)
    }
}

/// Assigns arena offsets to buffers from their lifetimes (greedy by size, first fit).
///
/// A buffer is live from the step that writes it to the last step that reads it or one of
/// its aliases. Buffers are placed largest first, each at the lowest 64-byte aligned offset
/// where it overlaps no already placed buffer whose lifetime intersects its own (TFLite's
/// "greedy by size" strategy, which is near the lower bound of the peak live size on
/// sequential graphs).
enum MemoryPlanner {
    /// Arena alignment (a cache line, as ``KilnCore`` tensors).
    static let alignment = 64

    /// One buffer to place.
    struct Buffer {
        /// Size in bytes, rounded up to ``alignment``.
        var bytes: Int
        /// First step that writes it.
        var start: Int
        /// Last step that reads it (inclusive).
        var end: Int
    }

    /// `bytes` rounded up to ``alignment``.
    static func aligned(_ bytes: Int) -> Int {
        (max(bytes, 1) + alignment - 1) / alignment * alignment
    }

    /// The offset of each buffer and the arena size.
    static func assignOffsets(_ buffers: [Buffer]) -> (offsets: [Int], arenaBytes: Int) {
        let order = buffers.indices.sorted { a, b in
            buffers[a].bytes != buffers[b].bytes ? buffers[a].bytes > buffers[b].bytes : a < b
        }
        var offsets = [Int](repeating: 0, count: buffers.count)
        var placed: [Int] = []
        var arenaBytes = 0
        for index in order {
            let buffer = buffers[index]
            // Occupied ranges of buffers whose lifetimes overlap this one's, by offset.
            let conflicts = placed
                .filter { buffers[$0].start <= buffer.end && buffer.start <= buffers[$0].end }
                .map { (offsets[$0], offsets[$0] + buffers[$0].bytes) }
                .sorted { $0.0 < $1.0 }
            var offset = 0
            for (low, high) in conflicts {
                if offset + buffer.bytes <= low { break }
                offset = max(offset, high)
            }
            offsets[index] = offset
            placed.append(index)
            arenaBytes = max(arenaBytes, offset + buffer.bytes)
        }
        return (offsets, arenaBytes)
    }
}
