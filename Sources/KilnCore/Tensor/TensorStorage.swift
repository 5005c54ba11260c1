/// A contiguous, 64-byte aligned block of memory viewed by one or more tensors.
///
/// Tensors share storage until one of them is mutated (copy on write, see
/// ``Tensor/withUnsafeMutableBytes(_:)``). The storage is immutable once shared,
/// which is what makes ``Tensor`` `Sendable`.
///
/// A storage either owns its memory (allocated here, freed at `deinit`) or views memory
/// another object owns (``init(viewing:byteCount:owner:)``: a run's arena), which it keeps
/// alive through `owner`. Copy on write always copies into owned memory, so writing a
/// shared view never touches the viewed bytes.
package final class TensorStorage: @unchecked Sendable {
    /// Alignment of every allocation, in bytes (a cache line; enough for AVX-512 loads).
    package static let alignment = 64

    package let pointer: UnsafeMutableRawPointer
    package let byteCount: Int
    /// The owner of viewed memory; `nil` when this storage owns `pointer`.
    private let owner: AnyObject?
    /// Whether the viewed memory can change under the storage (an arena); `false` for owned
    /// memory and for ``init(mapping:byteCount:owner:)``.
    private let viewsMutableMemory: Bool

    /// Allocates `byteCount` zeroed bytes.
    package init(byteCount: Int) {
        precondition(byteCount >= 0, "TensorStorage: negative byte count")
        self.byteCount = byteCount
        pointer = UnsafeMutableRawPointer.allocate(
            byteCount: max(byteCount, 1), alignment: Self.alignment)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
        owner = nil
        viewsMutableMemory = false
    }

    /// A storage over `byteCount` bytes at `pointer`, which `owner` allocated and frees;
    /// the storage keeps `owner` alive and never frees `pointer`.
    package init(viewing pointer: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        precondition(byteCount >= 0, "TensorStorage: negative byte count")
        self.pointer = pointer
        self.byteCount = byteCount
        self.owner = owner
        viewsMutableMemory = true
    }

    /// A storage over `byteCount` bytes at `pointer` that never change while `owner` lives
    /// (a private mapping of a file's constants); it keeps `owner` alive, never frees
    /// `pointer`, and counts as owned memory (``isView`` is false): the bytes are read in
    /// place, and only the pages read become resident.
    package init(mapping pointer: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        precondition(byteCount >= 0, "TensorStorage: negative byte count")
        self.pointer = pointer
        self.byteCount = byteCount
        self.owner = owner
        viewsMutableMemory = false
    }

    /// Whether the storage views memory it does not own and whose contents can change (an
    /// executor's arena).
    package var isView: Bool { viewsMutableMemory }

    /// A new storage with a copy of this one's bytes (always owned).
    package func copy() -> TensorStorage {
        let other = TensorStorage(byteCount: byteCount)
        other.pointer.copyMemory(from: pointer, byteCount: byteCount)
        return other
    }

    deinit {
        if owner == nil { pointer.deallocate() }
    }
}

extension TensorStorage {
    /// A new owned storage holding a copy of the first `count` bytes.
    package func copyPrefix(_ count: Int) -> TensorStorage {
        let other = TensorStorage(byteCount: count)
        other.pointer.copyMemory(from: pointer, byteCount: min(count, byteCount))
        return other
    }
}
