import KilnCore

/// Gather, GatherElements and GatherND over raw bytes: every dtype works. Indices are
/// passed already normalized (negative indices resolved, range-checked) by the caller.
public enum Gather {
    /// `Gather`: `output[o, j, i] = data[o, indices[j], i]` where `o` runs over the axes
    /// before `axis` (`outer` elements), `j` over the indices and `i` over the axes after
    /// `axis` (`inner` elements).
    public static func gather(
        _ data: UnsafeRawPointer, outer: Int, axisDim: Int, inner: Int, indices: [Int],
        elementSize: Int, into output: UnsafeMutableRawPointer, threads: Int = 1
    ) {
        let block = inner * elementSize
        let count = indices.count
        Parallel.forEach(outer * count, threads: threads, grain: max(1, 16_384 / max(block, 1))) { range in
            for row in range {
                let (o, j) = row.quotientAndRemainder(dividingBy: count)
                (output + row * block).copyMemory(
                    from: data + (o * axisDim + indices[j]) * block, byteCount: block)
            }
        }
    }

    /// `GatherElements`: `output[p] = data[p with p[axis] replaced by indices[p]]`, where
    /// `p` runs over `indicesShape` (same rank as `dataShape`, each dim no larger).
    public static func gatherElements(
        _ data: UnsafeRawPointer, dataShape: [Int], indices: [Int], indicesShape: [Int], axis: Int,
        elementSize: Int, into output: UnsafeMutableRawPointer
    ) {
        let dataStrides = Tensor.strides(dataShape)
        forEachPosition(indicesShape, skipping: axis, strides: dataStrides) { flat, base in
            let source = base + indices[flat] * dataStrides[axis]
            (output + flat * elementSize).copyMemory(from: data + source * elementSize, byteCount: elementSize)
        }
    }

    /// `GatherND` with `batchDims`: for each batch and each index tuple of length
    /// `indexDepth`, copies the data slice it addresses.
    ///
    /// - Parameters:
    ///   - dataShape: the data's shape.
    ///   - indices: flattened index tuples, already normalized, `batches * tuplesPerBatch * indexDepth`.
    ///   - tuplesPerBatch: index tuples per batch.
    public static func gatherND(
        _ data: UnsafeRawPointer, dataShape: [Int], batchDims: Int, indices: [Int], indexDepth: Int,
        tuplesPerBatch: Int, elementSize: Int, into output: UnsafeMutableRawPointer
    ) {
        let batches = Tensor.elementCount(Array(dataShape.prefix(batchDims)))
        let batchSize = Tensor.elementCount(Array(dataShape.dropFirst(batchDims)))
        let slice = Tensor.elementCount(Array(dataShape.dropFirst(batchDims + indexDepth)))
        let addressed = Array(dataShape[batchDims..<(batchDims + indexDepth)])
        let strides = Tensor.strides(addressed).map { $0 * slice }
        let bytes = slice * elementSize
        var written = 0
        for batch in 0..<batches {
            for tuple in 0..<tuplesPerBatch {
                let first = (batch * tuplesPerBatch + tuple) * indexDepth
                var offset = batch * batchSize
                for depth in 0..<indexDepth { offset += indices[first + depth] * strides[depth] }
                (output + written * bytes).copyMemory(from: data + offset * elementSize, byteCount: bytes)
                written += 1
            }
        }
    }

    /// Calls `body(flat, base)` for every position of `shape` in row-major order, where
    /// `base` is `Σ index[a] * strides[a]` over every axis but `skipping`.
    static func forEachPosition(
        _ shape: [Int], skipping axis: Int, strides: [Int], _ body: (Int, Int) -> Void
    ) {
        let count = Tensor.elementCount(shape)
        guard count > 0 else { return }
        var counter = [Int](repeating: 0, count: shape.count)
        var base = 0
        for flat in 0..<count {
            body(flat, base)
            var dim = shape.count - 1
            while dim >= 0 {
                counter[dim] += 1
                if dim != axis { base += strides[dim] }
                if counter[dim] < shape[dim] { break }
                if dim != axis { base -= strides[dim] * shape[dim] }
                counter[dim] = 0
                dim -= 1
            }
        }
    }
}
