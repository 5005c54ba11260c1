import KilnCore

/// Per-axis index remapping over raw bytes: output element `(o_0, …, o_n-1)` is input
/// element `(maps[0][o_0], …, maps[n-1][o_n-1])`, or `fill` where any map entry is -1.
/// Pad (every mode) and nearest-neighbour Resize are this copy.
public enum Remap {
    /// Copies `source` of `shape` through `maps` (one per axis; the output's extent along
    /// an axis is its map's length) into `destination`.
    ///
    /// - Parameters:
    ///   - fill: the bytes of one element, written where a map entry is -1.
    public static func copy(
        _ source: UnsafeRawPointer, shape: [Int], maps: [[Int]], fill: [UInt8], elementSize: Int,
        into destination: UnsafeMutableRawPointer, threads: Int = 1
    ) {
        let rank = shape.count
        precondition(maps.count == rank, "Remap: one map per axis")
        precondition(fill.count == elementSize, "Remap: fill must be one element")
        guard rank > 0 else {
            destination.copyMemory(from: source, byteCount: elementSize)
            return
        }
        let outShape = maps.map(\.count)
        let total = Tensor.elementCount(outShape)
        guard total > 0 else { return }
        let strides = Tensor.strides(shape)
        let inner = maps[rank - 1]
        let innerCount = inner.count
        // A run of consecutive source elements is copied whole when long enough to beat the
        // element loop (nearest upsampling's runs are two elements: those stay in the loop).
        let longest = longestRun(inner)
        let (runStart, runLength) = longest.length >= 16 ? longest : (0, 0)
        let isIdentityRun = runLength > 0
        let rows = total / innerCount
        fill.withUnsafeBytes { fillBytes in
            guard let fillPointer = fillBytes.baseAddress else { return }
            let grain = max(1, 8_192 / innerCount)
            Parallel.forEach(rows, threads: threads, grain: grain) { range in
                var counter = [Int](repeating: 0, count: rank - 1)
                var remainder = range.lowerBound
                for axis in (0..<(rank - 1)).reversed() {
                    counter[axis] = remainder % outShape[axis]
                    remainder /= outShape[axis]
                }
                // The source offset of the previous row of this chunk: a row that reads the same
                // source row (nearest upsampling repeats rows) copies that output row whole.
                var previousBase = -1
                let rowBytes = innerCount * elementSize
                for row in range {
                    let rowOut = destination + row * rowBytes
                    var base = 0
                    var isFillRow = false
                    for axis in 0..<(rank - 1) {
                        let index = maps[axis][counter[axis]]
                        if index < 0 {
                            isFillRow = true
                            break
                        }
                        base += index * strides[axis]
                    }
                    if !isFillRow && base == previousBase {
                        rowOut.copyMemory(from: rowOut - rowBytes, byteCount: rowBytes)
                    } else if isFillRow {
                        for element in 0..<innerCount {
                            (rowOut + element * elementSize).copyMemory(from: fillPointer, byteCount: elementSize)
                        }
                    } else {
                        if isIdentityRun {
                            (rowOut + runStart * elementSize).copyMemory(
                                from: source + (base + inner[runStart]) * elementSize,
                                byteCount: runLength * elementSize)
                        }
                        copyScattered(
                            source + base * elementSize, inner, skipping: runStart..<(runStart + runLength),
                            fill: fillPointer, elementSize: elementSize, to: rowOut)
                    }
                    previousBase = isFillRow ? -1 : base
                    var axis = rank - 2
                    while axis >= 0 {
                        counter[axis] += 1
                        if counter[axis] < outShape[axis] { break }
                        counter[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }

    /// The longest stretch of `map` that reads consecutive source elements.
    static func longestRun(_ map: [Int]) -> (start: Int, length: Int) {
        var best = (start: 0, length: 0)
        var position = 0
        while position < map.count {
            guard map[position] >= 0 else {
                position += 1
                continue
            }
            var end = position + 1
            while end < map.count, map[end] == map[end - 1] + 1 { end += 1 }
            if end - position > best.length { best = (position, end - position) }
            position = end
        }
        return best
    }

    /// Copies the row's elements outside `skipping` one by one.
    @inline(__always)
    private static func copyScattered(
        _ rowSource: UnsafeRawPointer, _ map: [Int], skipping: Range<Int>, fill: UnsafeRawPointer,
        elementSize: Int, to rowOut: UnsafeMutableRawPointer
    ) {
        switch elementSize {
        case 1: copyScattered(rowSource, map, skipping, fill, rowOut, as: UInt8.self)
        case 2: copyScattered(rowSource, map, skipping, fill, rowOut, as: UInt16.self)
        case 4: copyScattered(rowSource, map, skipping, fill, rowOut, as: UInt32.self)
        case 8: copyScattered(rowSource, map, skipping, fill, rowOut, as: UInt64.self)
        default:
            for element in map.indices where !skipping.contains(element) {
                let index = map[element]
                (rowOut + element * elementSize).copyMemory(
                    from: index < 0 ? fill : rowSource + index * elementSize, byteCount: elementSize)
            }
        }
    }

    @inline(__always)
    private static func copyScattered<Word: FixedWidthInteger>(
        _ rowSource: UnsafeRawPointer, _ map: [Int], _ skipping: Range<Int>, _ fill: UnsafeRawPointer,
        _ rowOut: UnsafeMutableRawPointer, as word: Word.Type
    ) {
        let size = MemoryLayout<Word>.size
        let fillWord = fill.load(as: Word.self)
        map.withUnsafeBufferPointer { indices in
            // Two ranges without an array of them (that allocated once per row).
            func copy(_ range: Range<Int>) {
                for element in range {
                    let index = indices[element]
                    let value = index < 0 ? fillWord : rowSource.load(fromByteOffset: index * size, as: Word.self)
                    rowOut.storeBytes(of: value, toByteOffset: element * size, as: Word.self)
                }
            }
            copy(0..<skipping.lowerBound)
            copy(skipping.upperBound..<indices.count)
        }
    }
}
