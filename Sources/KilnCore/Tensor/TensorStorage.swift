/// A contiguous, 64-byte aligned block of memory owned by one or more tensors.
///
/// Tensors share storage until one of them is mutated (copy on write, see
/// ``Tensor/withUnsafeMutableBytes(_:)``). The storage is immutable once shared,
/// which is what makes ``Tensor`` `Sendable`.
package final class TensorStorage: @unchecked Sendable {
    /// Alignment of every allocation, in bytes (a cache line; enough for AVX-512 loads).
    package static let alignment = 64

    package let pointer: UnsafeMutableRawPointer
    package let byteCount: Int

    /// Allocates `byteCount` zeroed bytes.
    package init(byteCount: Int) {
        precondition(byteCount >= 0, "TensorStorage: negative byte count")
        self.byteCount = byteCount
        pointer = UnsafeMutableRawPointer.allocate(
            byteCount: max(byteCount, 1), alignment: Self.alignment)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
    }

    /// A new storage with a copy of this one's bytes.
    package func copy() -> TensorStorage {
        let other = TensorStorage(byteCount: byteCount)
        other.pointer.copyMemory(from: pointer, byteCount: byteCount)
        return other
    }

    deinit {
        pointer.deallocate()
    }
}
