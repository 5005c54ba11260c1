import KilnCore
import Testing

/// Tensors over memory they do not own (an executor's arena).
@Suite struct TensorViewTests {
    final class Block {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        init() { pointer.initializeMemory(as: UInt8.self, repeating: 0, count: 64) }
        deinit { pointer.deallocate() }
        var floats: [Float] { Array(UnsafeBufferPointer(start: pointer.bindMemory(to: Float.self, capacity: 16), count: 4)) }
    }

    @Test func writingAUniqueViewWritesTheMemory() {
        let block = Block()
        var view = Tensor(shape: [4], dtype: .float32, viewing: block.pointer, byteCount: 16, owner: block)
        #expect(view.isView)
        view.withUnsafeMutableBufferPointer(as: Float.self) { $0[2] = 5 }
        #expect(block.floats == [0, 0, 5, 0])
    }

    @Test func copyOnWriteNeverWritesSharedViewedMemory() {
        let block = Block()
        let view = Tensor(shape: [4], dtype: .float32, viewing: block.pointer, byteCount: 16, owner: block)
        var copy = view
        copy.withUnsafeMutableBufferPointer(as: Float.self) { $0[0] = 7 }
        #expect(block.floats == [0, 0, 0, 0])
        #expect(!copy.isView)
        #expect(copy.scalars(as: Float.self) == [7, 0, 0, 0])
        let owned = view.ownedCopy()
        #expect(!owned.isView && owned == view)
        #expect(owned.baseAddress != view.baseAddress)
    }

    @Test func aViewKeepsItsOwnerAlive() {
        var view: Tensor?
        weak var weakBlock: Block?
        do {
            let block = Block()
            weakBlock = block
            view = Tensor(shape: [2], dtype: .float32, viewing: block.pointer, byteCount: 8, owner: block)
        }
        #expect(weakBlock != nil)
        view = nil
        #expect(weakBlock == nil)
        #expect(view == nil)
    }
}
