import KilnCore

/// ONNX `Einsum` over operands whose axes carry integer labels (the parsed equation, with
/// ellipsis axes given labels of their own by the caller).
///
/// Each operand first takes the diagonal of repeated labels and sums out labels no one
/// else uses; operands are then contracted left to right, each contraction a batched
/// matrix product (permute both sides to `[batch, free, contracted]`, multiply with
/// ``MatrixProducts/multiply``), and the result is permuted to the output labels.
/// Axes of extent 1 broadcast against the same label's extent elsewhere.
package enum Einsum {
    /// The extent of every label, and the output shape.
    ///
    /// - Throws: `shapeMismatch` when ranks and labels disagree, a label has two extents
    ///   other than 1, or an output label appears in no operand.
    package static func outputShape(shapes: [[Int]], labels: [[Int]], output: [Int]) throws -> [Int] {
        let extents = try labelExtents(shapes: shapes, labels: labels)
        return try output.map { label in
            guard let extent = extents[label] else {
                throw KilnError(.shapeMismatch, "Einsum output label \(label) appears in no operand")
            }
            return extent
        }
    }

    private static func labelExtents(shapes: [[Int]], labels: [[Int]]) throws -> [Int: Int] {
        guard shapes.count == labels.count else {
            throw KilnError(.shapeMismatch, "Einsum has \(shapes.count) operands for \(labels.count) terms")
        }
        var extents: [Int: Int] = [:]
        for (shape, operandLabels) in zip(shapes, labels) {
            guard shape.count == operandLabels.count else {
                throw KilnError(.shapeMismatch, "Einsum operand of shape \(shape) has \(operandLabels.count) labels")
            }
            for (extent, label) in zip(shape, operandLabels) {
                let known = extents[label] ?? 1
                guard known == extent || known == 1 || extent == 1 else {
                    throw KilnError(.shapeMismatch, "Einsum label \(label) has extents \(known) and \(extent)")
                }
                extents[label] = max(known, extent)
            }
        }
        return extents
    }

    /// Computes the einsum into `output` (of ``outputShape(shapes:labels:output:)``).
    ///
    /// - Throws: `shapeMismatch`, `kernelMissing` for an unsupported dtype.
    package static func run(operands: [Tensor], labels: [[Int]], outputLabels: [Int], output: inout Tensor, threads: Int) throws {
        guard let dtype = operands.first?.dtype, operands.allSatisfy({ $0.dtype == dtype }) else {
            throw KilnError(.shapeMismatch, "Einsum operands must share one dtype")
        }
        switch dtype {
        case .float32: try run(operands, labels, outputLabels, &output, threads, as: Float.self)
        case .float64: try run(operands, labels, outputLabels, &output, threads, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: try run(operands, labels, outputLabels, &output, threads, as: Float16.self)
        #endif
        case .int32: try run(operands, labels, outputLabels, &output, threads, as: Int32.self)
        case .int64: try run(operands, labels, outputLabels, &output, threads, as: Int64.self)
        case .uint32: try run(operands, labels, outputLabels, &output, threads, as: UInt32.self)
        case .uint64: try run(operands, labels, outputLabels, &output, threads, as: UInt64.self)
        default: throw KilnError(.kernelMissing, "[Einsum] no \(dtype) kernel")
        }
    }

    /// An operand in flight: values in row-major order, one label per axis.
    private struct Term<T> {
        var values: [T]
        var shape: [Int]
        var labels: [Int]
    }

    private static func run<T: ProductElement>(
        _ operands: [Tensor], _ labels: [[Int]], _ outputLabels: [Int], _ output: inout Tensor, _ threads: Int,
        as type: T.Type
    ) throws {
        let extents = try labelExtents(shapes: operands.map(\.shape), labels: labels)
        var terms: [Term<T>] = []
        for (index, (operand, operandLabels)) in zip(operands, labels).enumerated() {
            // Broadcast extent-1 axes, then take diagonals: one axis per distinct label.
            var distinct: [Int] = []
            for label in operandLabels where !distinct.contains(label) { distinct.append(label) }
            let strides = Tensor.strides(operand.shape)
            let gatherStrides = distinct.map { label in
                operandLabels.indices.filter { operandLabels[$0] == label && operand.shape[$0] != 1 }
                    .reduce(0) { $0 + strides[$1] }
            }
            var term = Term(
                values: gather(operand.scalars(as: T.self), shape: distinct.map { extents[$0] ?? 1 }, strides: gatherStrides),
                shape: distinct.map { extents[$0] ?? 1 }, labels: distinct)
            // Sum out labels that neither the output nor another operand uses.
            let elsewhere = Set(outputLabels + labels.enumerated().filter { $0.offset != index }.flatMap(\.element))
            term = sumOut(term, keeping: elsewhere)
            terms.append(term)
        }
        var result = terms[0]
        for index in 1..<max(1, terms.count) {
            let kept = Set(outputLabels + terms[(index + 1)...].flatMap(\.labels))
            result = contract(result, terms[index], keeping: kept, threads: threads)
        }
        result = sumOut(result, keeping: Set(outputLabels))
        let positions = outputLabels.compactMap { result.labels.firstIndex(of: $0) }
        let strides = Tensor.strides(result.shape)
        let final = gather(result.values, shape: positions.map { result.shape[$0] }, strides: positions.map { strides[$0] })
        output.withUnsafeMutableBufferPointer(as: T.self) { out in
            for index in final.indices { out[index] = final[index] }
        }
    }

    /// Contracts two terms over their shared labels not in `keeping`; the result's labels
    /// are `shared kept…, left-only…, right-only…`.
    private static func contract<T: ProductElement>(_ left: Term<T>, _ right: Term<T>, keeping: Set<Int>, threads: Int) -> Term<T> {
        let left = sumOut(left, keeping: keeping.union(right.labels))
        let right = sumOut(right, keeping: keeping.union(left.labels))
        let batch = left.labels.filter { right.labels.contains($0) && keeping.contains($0) }
        let contracted = left.labels.filter { right.labels.contains($0) && !keeping.contains($0) }
        let leftFree = left.labels.filter { !right.labels.contains($0) }
        let rightFree = right.labels.filter { !left.labels.contains($0) }
        let a = permuted(left, to: batch + leftFree + contracted)
        let b = permuted(right, to: batch + contracted + rightFree)
        func extent(_ labels: [Int], in term: Term<T>) -> Int {
            labels.reduce(1) { $0 * term.shape[term.labels.firstIndex(of: $1) ?? 0] }
        }
        let batchCount = extent(batch, in: left)
        let m = extent(leftFree, in: left)
        let k = extent(contracted, in: left)
        let n = extent(rightFree, in: right)
        var values = [T](repeating: 0, count: batchCount * m * n)
        a.values.withUnsafeBufferPointer { aBuffer in
            b.values.withUnsafeBufferPointer { bBuffer in
                values.withUnsafeMutableBufferPointer { cBuffer in
                    guard let aBase = aBuffer.baseAddress, let bBase = bBuffer.baseAddress, let cBase = cBuffer.baseAddress else { return }
                    for index in 0..<batchCount {
                        MatrixProducts.multiply(
                            m: m, n: n, k: k, a: aBase + index * m * k, lda: k, b: bBase + index * k * n, ldb: n,
                            c: cBase + index * m * n, ldc: n, threads: threads)
                    }
                }
            }
        }
        let labels = batch + leftFree + rightFree
        let shape = (batch + leftFree).map { left.shape[left.labels.firstIndex(of: $0) ?? 0] }
            + rightFree.map { right.shape[right.labels.firstIndex(of: $0) ?? 0] }
        return Term(values: values, shape: shape, labels: labels)
    }

    /// Sums the axes whose labels are not in `keeping`.
    private static func sumOut<T: ProductElement>(_ term: Term<T>, keeping: Set<Int>) -> Term<T> {
        let kept = term.labels.filter { keeping.contains($0) }
        guard kept.count < term.labels.count else { return term }
        let summed = term.labels.filter { !keeping.contains($0) }
        let ordered = permuted(term, to: kept + summed)
        let keptCount = kept.reduce(1) { $0 * ordered.shape[ordered.labels.firstIndex(of: $1) ?? 0] }
        let chunk = keptCount > 0 ? ordered.values.count / keptCount : 0
        var values = [T](repeating: 0, count: keptCount)
        for index in 0..<keptCount {
            var accumulator = T.zero
            for offset in 0..<chunk { accumulator = T.multiplyAdd(1, ordered.values[index * chunk + offset], accumulator) }
            values[index] = accumulator
        }
        return Term(values: values, shape: Array(ordered.shape.prefix(kept.count)), labels: kept)
    }

    /// The term with its axes reordered to `labels` (a permutation of its labels).
    private static func permuted<T>(_ term: Term<T>, to labels: [Int]) -> Term<T> {
        guard labels != term.labels else { return term }
        let positions = labels.map { term.labels.firstIndex(of: $0) ?? 0 }
        let strides = Tensor.strides(term.shape)
        let shape = positions.map { term.shape[$0] }
        return Term(values: gather(term.values, shape: shape, strides: positions.map { strides[$0] }), shape: shape, labels: labels)
    }

    /// `result[i…] = values[Σ i_k · strides_k]` for every index of `shape`, row-major:
    /// one primitive for permutation, broadcasting (stride 0) and diagonals (summed strides).
    private static func gather<T>(_ values: [T], shape: [Int], strides: [Int]) -> [T] {
        let count = Tensor.elementCount(shape)
        guard count > 0 else { return [] }
        var result: [T] = []
        result.reserveCapacity(count)
        var index = [Int](repeating: 0, count: shape.count)
        var offset = 0
        for _ in 0..<count {
            result.append(values[offset])
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < shape[axis] { break }
                offset -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}
