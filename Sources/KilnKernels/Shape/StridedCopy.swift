import CKilnKernels
import KilnCore

/// Dtype-agnostic strided copy: the one byte mover behind Transpose, Slice, Expand, Tile,
/// DepthToSpace and SpaceToDepth. Elements are moved as raw bytes of `elementSize`, so
/// every dtype works.
public enum StridedCopy {
    /// Copies a view into a contiguous row-major destination.
    ///
    /// Element `i` of the destination (in row-major order over `shape`) is read from
    /// `source` at element `offset + Σ index[axis] * strides[axis]`. Strides may be zero
    /// (broadcast) or negative (reversed slices).
    ///
    /// - Parameters:
    ///   - source: the source elements' base address.
    ///   - offset: the element offset of the view's first element.
    ///   - strides: per axis of `shape`, the source step in elements.
    ///   - shape: the view's (and destination's) shape.
    ///   - elementSize: bytes per element.
    ///   - destination: at least `shape.product * elementSize` writable bytes.
    ///   - threads: intra-op threads.
    public static func copy(
        from source: UnsafeRawPointer, offset: Int, strides: [Int], shape: [Int], elementSize: Int,
        to destination: UnsafeMutableRawPointer, threads: Int = 1
    ) {
        precondition(strides.count == shape.count, "StridedCopy: strides and shape ranks differ")
        let total = Tensor.elementCount(shape)
        guard total > 0 else { return }
        let (dims, steps) = collapse(shape: shape, strides: strides)
        guard let inner = dims.last, let innerStride = steps.last else {
            (destination).copyMemory(from: source + offset * elementSize, byteCount: elementSize)
            return
        }
        if innerStride != 1, let contiguous = steps.firstIndex(of: 1), [1, 2, 4, 8].contains(elementSize) {
            copyTiled(
                from: source, offset: offset, dims: dims, steps: steps, contiguous: contiguous,
                elementSize: elementSize, to: destination, threads: threads)
            return
        }
        let rows = total / inner
        let outerDims = Array(dims.dropLast())
        let outerSteps = Array(steps.dropLast())
        let grain = max(1, 16_384 / max(inner, 1))
        Parallel.forEach(rows, threads: threads, grain: grain) { range in
            var counter = [Int](repeating: 0, count: outerDims.count)
            var remainder = range.lowerBound
            var sourceOffset = offset
            for axis in outerDims.indices.reversed() {
                counter[axis] = remainder % outerDims[axis]
                remainder /= outerDims[axis]
                sourceOffset += counter[axis] * outerSteps[axis]
            }
            for row in range {
                copyRow(
                    from: source + sourceOffset * elementSize, stride: innerStride, count: inner,
                    elementSize: elementSize, to: destination + row * inner * elementSize)
                var axis = outerDims.count - 1
                while axis >= 0 {
                    counter[axis] += 1
                    sourceOffset += outerSteps[axis]
                    if counter[axis] < outerDims[axis] { break }
                    sourceOffset -= outerSteps[axis] * outerDims[axis]
                    counter[axis] = 0
                    axis -= 1
                }
            }
        }
    }

    /// Side of the square tiles of a transposing copy (in elements).
    static let tile = 32

    /// A transposing copy: the source is contiguous along axis `contiguous` but the
    /// destination along the last axis, so both are walked in square tiles to stay in cache.
    private static func copyTiled(
        from source: UnsafeRawPointer, offset: Int, dims: [Int], steps: [Int], contiguous: Int, elementSize: Int,
        to destination: UnsafeMutableRawPointer, threads: Int
    ) {
        let last = dims.count - 1
        let destinationSteps = Tensor.strides(dims)
        let restAxes = (0..<last).filter { $0 != contiguous }
        let restCount = Tensor.elementCount(restAxes.map { dims[$0] })
        let rowTiles = (dims[contiguous] + tile - 1) / tile
        Parallel.forEach(restCount * rowTiles, threads: threads, grain: 4) { range in
            for item in range {
                let (rest, rowTile) = item.quotientAndRemainder(dividingBy: rowTiles)
                var remainder = rest
                var sourceBase = offset
                var destinationBase = 0
                for axis in restAxes.reversed() {
                    let index = remainder % dims[axis]
                    remainder /= dims[axis]
                    sourceBase += index * steps[axis]
                    destinationBase += index * destinationSteps[axis]
                }
                let rows = (rowTile * tile)..<Swift.min((rowTile + 1) * tile, dims[contiguous])
                var columnStart = 0
                while columnStart < dims[last] {
                    let columns = columnStart..<Swift.min(columnStart + tile, dims[last])
                    let block = TileBlock(
                        sourceBase: sourceBase, destinationBase: destinationBase, rows: rows, columns: columns,
                        destinationRowStep: destinationSteps[contiguous], sourceColumnStep: steps[last])
                    switch elementSize {
                    case 1: block.copy(source, destination, as: UInt8.self)
                    case 2: block.copy(source, destination, as: UInt16.self)
                    case 4: block.copy(source, destination, as: UInt32.self)
                    default: block.copy(source, destination, as: UInt64.self)
                    }
                    columnStart += tile
                }
            }
        }
    }

    /// One tile of a transposing copy: rows are contiguous in the source, columns in the
    /// destination.
    private struct TileBlock {
        let sourceBase: Int
        let destinationBase: Int
        let rows: Range<Int>
        let columns: Range<Int>
        let destinationRowStep: Int
        let sourceColumnStep: Int

        @inline(__always)
        func copy<Word: FixedWidthInteger>(
            _ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer, as word: Word.Type
        ) {
            let size = MemoryLayout<Word>.size
            for row in rows {
                let target = (destinationBase + row * destinationRowStep) * size
                var from = (sourceBase + row) * size + columns.lowerBound * sourceColumnStep * size
                for column in columns {
                    destination.storeBytes(
                        of: source.load(fromByteOffset: from, as: Word.self), toByteOffset: target + column * size,
                        as: Word.self)
                    from += sourceColumnStep * size
                }
            }
        }
    }

    /// Drops unit axes and merges adjacent axes that are contiguous with each other.
    static func collapse(shape: [Int], strides: [Int]) -> (shape: [Int], strides: [Int]) {
        var dims: [Int] = []
        var steps: [Int] = []
        for (dim, stride) in zip(shape, strides) where dim != 1 {
            if let lastDim = dims.last, let lastStride = steps.last, lastStride == stride * dim {
                dims[dims.count - 1] = lastDim * dim
                steps[steps.count - 1] = stride
            } else {
                dims.append(dim)
                steps.append(stride)
            }
        }
        return (dims, steps)
    }

    /// Copies `count` elements read every `stride` elements into contiguous `destination`.
    @inline(__always)
    static func copyRow(
        from source: UnsafeRawPointer, stride: Int, count: Int, elementSize: Int,
        to destination: UnsafeMutableRawPointer
    ) {
        if stride == 1 {
            destination.copyMemory(from: source, byteCount: count * elementSize)
            return
        }
        switch elementSize {
        case 1: copyRow(source, stride, count, destination, as: UInt8.self)
        case 2: copyRow(source, stride, count, destination, as: UInt16.self)
        case 4: copyRow(source, stride, count, destination, as: UInt32.self)
        case 8: copyRow(source, stride, count, destination, as: UInt64.self)
        default:
            for index in 0..<count {
                (destination + index * elementSize).copyMemory(
                    from: source + index * stride * elementSize, byteCount: elementSize)
            }
        }
    }

    @inline(__always)
    private static func copyRow<Word: FixedWidthInteger>(
        _ source: UnsafeRawPointer, _ stride: Int, _ count: Int, _ destination: UnsafeMutableRawPointer,
        as word: Word.Type
    ) {
        let size = MemoryLayout<Word>.size
        var from = 0
        for index in 0..<count {
            destination.storeBytes(
                of: source.load(fromByteOffset: from * size, as: Word.self), toByteOffset: index * size,
                as: Word.self)
            from += stride
        }
    }
}

extension StridedCopy {
    /// Bytes of `planes` planes of `count` each interleaved (`destination[p·planes + c] =
    /// source[c·count + p]`: one image from NCHW to NHWC) or, without `toInterleaved`, the
    /// inverse; the native kernel, fast for a few planes (an RGB image).
    package static func interleaveBytes(
        _ source: UnsafeRawPointer, count: Int, planes: Int, into destination: UnsafeMutableRawPointer, toInterleaved: Bool
    ) {
        ckiln_interleave_bytes(source, count, planes, destination, toInterleaved ? 1 : 0)
    }

    /// Transposes `source` of `shape` by `permutation` (output axis `i` is input axis
    /// `permutation[i]`) into `destination`.
    public static func transpose(
        _ source: UnsafeRawPointer, shape: [Int], permutation: [Int], elementSize: Int,
        into destination: UnsafeMutableRawPointer, threads: Int = 1
    ) {
        let strides = Tensor.strides(shape)
        copy(
            from: source, offset: 0, strides: permutation.map { strides[$0] },
            shape: permutation.map { shape[$0] }, elementSize: elementSize, to: destination,
            threads: threads)
    }

    /// Broadcasts `source` of `shape` to `target` (numpy rules; the caller checked them).
    public static func expand(
        _ source: UnsafeRawPointer, shape: [Int], to target: [Int], elementSize: Int,
        into destination: UnsafeMutableRawPointer, threads: Int = 1
    ) {
        copy(
            from: source, offset: 0, strides: Broadcast.strides(of: shape, to: target), shape: target,
            elementSize: elementSize, to: destination, threads: threads)
    }

    /// Tiles `source` of `shape` `repeats[axis]` times along each axis; the output shape
    /// is `shape[axis] * repeats[axis]`.
    public static func tile(
        _ source: UnsafeRawPointer, shape: [Int], repeats: [Int], elementSize: Int,
        into destination: UnsafeMutableRawPointer, threads: Int = 1
    ) {
        // View the input as [1, d0, 1, d1, …] broadcast to [r0, d0, r1, d1, …].
        let strides = Tensor.strides(shape)
        var viewShape: [Int] = []
        var viewStrides: [Int] = []
        for axis in shape.indices {
            viewShape += [repeats[axis], shape[axis]]
            viewStrides += [0, strides[axis]]
        }
        copy(
            from: source, offset: 0, strides: viewStrides, shape: viewShape, elementSize: elementSize,
            to: destination, threads: threads)
    }
}

/// A strided copy (``StridedCopy/copy(from:offset:strides:shape:elementSize:to:threads:)``)
/// over a view fixed in advance, its address arithmetic done once: a table of where each
/// contiguous source row starts or, for a small transposing copy, where each element comes
/// from. A run is then one loop over the table (the bytes moved are the same; views too big
/// for a table take the general copy).
package struct StridedCopyPlan: Sendable {
    private enum Walk: Sendable {
        /// Rows of `length` elements contiguous in the source, starting at these offsets.
        case rows(length: Int, starts: [Int])
        /// Each destination element's source offset.
        case elements([Int32])
        /// Neither fits in the table budget: the general copy.
        case general(strides: [Int], shape: [Int])
    }

    private let walk: Walk
    private let elementSize: Int
    private let offset: Int

    /// Table entries a plan may hold.
    private static let budget = 1 << 16

    /// Plans copying the view of `shape` with `strides` (in elements) from element `offset`
    /// of the source, `elementSize` bytes per element.
    package init(offset: Int, strides: [Int], shape: [Int], elementSize: Int) {
        precondition(strides.count == shape.count, "StridedCopyPlan: strides and shape ranks differ")
        self.offset = offset
        self.elementSize = elementSize
        let total = Tensor.elementCount(shape)
        let (dims, steps) = StridedCopy.collapse(shape: shape, strides: strides)
        let general = Walk.general(strides: strides, shape: shape)
        guard total > 0, let inner = dims.last, let innerStep = steps.last, [1, 2, 4, 8].contains(elementSize) else {
            walk = general
            return
        }
        // Short rows copy faster element by element through the table than row by row.
        if innerStep == 1, inner >= 64 || total > Self.budget, total / inner <= Self.budget {
            walk = .rows(length: inner, starts: Self.offsets(dims.dropLast(), steps.dropLast()))
        } else if total <= Self.budget, total <= Int(Int32.max) {
            walk = .elements(Self.offsets(dims[...], steps[...]).map { Int32($0) })
        } else {
            walk = general
        }
    }

    /// The source offset of each point of the grid `dims` (row-major), `steps` per axis.
    private static func offsets(_ dims: ArraySlice<Int>, _ steps: ArraySlice<Int>) -> [Int] {
        var result = [0]
        for (dim, step) in zip(dims, steps) {
            result = result.flatMap { base in (0..<dim).map { base + $0 * step } }
        }
        return result
    }

    /// Copies the planned view of `source` into contiguous `destination`.
    package func run(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, threads: Int) {
        switch walk {
        case .general(let strides, let shape):
            StridedCopy.copy(
                from: source, offset: offset, strides: strides, shape: shape, elementSize: elementSize, to: destination,
                threads: threads)
        case .rows(let length, let starts):
            let base = source + offset * elementSize
            let rowBytes = length * elementSize
            starts.withUnsafeBufferPointer { starts in
                Parallel.forEach(starts.count, threads: threads, grain: max(1, 16_384 / max(length, 1))) { range in
                    for row in range {
                        (destination + row * rowBytes).copyMemory(from: base + starts[row] * elementSize, byteCount: rowBytes)
                    }
                }
            }
        case .elements(let table):
            switch elementSize {
            case 1: gather(table, source, destination, as: UInt8.self)
            case 2: gather(table, source, destination, as: UInt16.self)
            case 4: gather(table, source, destination, as: UInt32.self)
            default: gather(table, source, destination, as: UInt64.self)
            }
        }
    }

    @inline(__always)
    private func gather<Word: FixedWidthInteger>(
        _ table: [Int32], _ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer, as word: Word.Type
    ) {
        let from = (source + offset * elementSize).assumingMemoryBound(to: Word.self)
        let to = destination.assumingMemoryBound(to: Word.self)
        table.withUnsafeBufferPointer { table in
            for index in table.indices { to[index] = from[Int(table[index])] }
        }
    }
}
