import CKilnKernels
import Foundation
import KilnCore

/// W and R of LSTM and GRU nodes packed for the native loop, kept across calls by the
/// identity of the tensor's storage, so a model's weights are packed on its first run only.
///
/// An entry holds the storage it was packed from: while it does, the storage is shared,
/// so writing through any tensor on it copies first (copy on write) and the packed bytes
/// cannot go stale, nor can the identity be reused by another allocation. Storages that
/// view memory they do not own (a run's arena, reused between nodes) are never kept.
/// At most ``budget`` floats are kept, the oldest entries evicted first.
final class RecurrentWeights: @unchecked Sendable {
    /// The process-wide cache.
    static let shared = RecurrentWeights()
    /// Floats kept at most (64 MiB).
    static let budget = 1 << 24

    /// What a packed buffer holds.
    enum Kind: Hashable {
        /// W for the input projection (`ckiln_sgemm_pack_b`, transposed), per direction.
        case inputWeights
        /// R for the recurrent products (`ckiln_recurrent_pack_r`), per direction.
        case recurrentWeights(gru: Bool)
    }

    /// Packed floats, freed when the last user (the cache or a running call) lets go.
    final class Buffer: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Float>
        let count: Int

        init(count: Int) {
            self.count = count
            pointer = .allocate(capacity: max(count, 1))
        }

        deinit { pointer.deallocate() }
    }

    private struct Key: Hashable {
        let storage: ObjectIdentifier
        let shape: [Int]
        let kind: Kind
        let isa: Int32
    }

    private struct Entry {
        /// Keeps the identity (and, shared, the bytes) of the packed storage fixed.
        let storage: TensorStorage
        let buffer: Buffer
    }

    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]
    private var order: [Key] = []
    private var floats = 0

    /// `weights` (float32 `[D, G·H, K]`) packed as `kind` for instruction set `isa`, from the
    /// cache when its storage was packed so before; `nil` when it cannot be kept (a view of
    /// memory it does not own, or larger than the budget): the kernel then packs per call.
    func packed(_ weights: Tensor, _ kind: Kind, isa: Int32) -> Buffer? {
        let storage = weights.storage
        guard !storage.isView, weights.rank == 3 else { return nil }
        let (directions, rows, depth) = (weights.shape[0], weights.shape[1], weights.shape[2])
        let perDirection: Int
        switch kind {
        case .inputWeights: perDirection = Int(ckiln_sgemm_packed_b_count(depth, rows))
        case .recurrentWeights(let gru): perDirection = Int(ckiln_recurrent_packed_r_count(isa, gru ? 1 : 0, depth))
        }
        let count = directions * perDirection
        guard count <= Self.budget else { return nil }
        let key = Key(storage: ObjectIdentifier(storage), shape: weights.shape, kind: kind, isa: isa)
        if let entry = lock.withLock({ entries[key] }) { return entry.buffer }
        let buffer = Buffer(count: count)
        weights.withUnsafeBufferPointer(as: Float.self) { values in
            guard let base = values.baseAddress else { return }
            for d in 0..<directions {
                let source = base + d * rows * depth
                let target = buffer.pointer + d * perDirection
                switch kind {
                case .inputWeights: ckiln_sgemm_pack_b(1, depth, rows, source, depth, target)
                case .recurrentWeights(let gru): ckiln_recurrent_pack_r(isa, gru ? 1 : 0, depth, source, target)
                }
            }
        }
        lock.withLock {
            guard entries[key] == nil else { return }
            while floats + count > Self.budget, !order.isEmpty {
                let oldest = order.removeFirst()
                floats -= entries.removeValue(forKey: oldest)?.buffer.count ?? 0
            }
            entries[key] = Entry(storage: storage, buffer: buffer)
            order.append(key)
            floats += count
        }
        return buffer
    }
}
