import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// DataMovement evaluators that index: gathers, scatters, TopK, OneHot, NonZero,
    /// Trilu and Range. Merged into ``dataMovement``.
    static let dataMovementIndexing: [OpKind: Evaluator] = [
        .gather: Indexing.gather,
        .gatherElements: Indexing.gatherElements,
        .gatherND: Indexing.gatherND,
        .scatterND: Indexing.scatterND,
        .scatterElements: Indexing.scatterElements,
        .topK: Indexing.topK,
        .oneHot: Indexing.oneHot,
        .nonZero: Indexing.nonZero,
        .trilu: Indexing.trilu,
        .range: Indexing.range,
    ]
}

private typealias Operands = DataMovementOperands

private enum Indexing {
    static func gather(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let indicesTensor = try context.required(inputs, 1, node)
        let axis = try Operands.axis(try node.attributes.int("axis", default: 0), rank: data.rank)
        let dim = data.shape[axis]
        let indices = try Operands.ints(indicesTensor, "indices").map { try Operands.index($0, dim: dim) }
        let shape = Array(data.shape.prefix(axis)) + indicesTensor.shape + Array(data.shape.dropFirst(axis + 1))
        let output = try Operands.make(shape, data.dtype) { out in
            try Operands.read(data) { source in
                Gather.gather(
                    source, outer: Tensor.elementCount(Array(data.shape.prefix(axis))), axisDim: dim,
                    inner: Tensor.elementCount(Array(data.shape.dropFirst(axis + 1))), indices: indices,
                    elementSize: data.dtype.byteSize, into: out, threads: context.threads)
            }
        }
        return [output]
    }

    /// Checks that `indices` has the rank of `data` and resolves each against the axis.
    private static func elementIndices(_ data: Tensor, _ indices: Tensor, axis: Int) throws -> [Int] {
        guard indices.rank == data.rank,
            zip(indices.shape, data.shape).enumerated().allSatisfy({ $0.offset == axis || $0.element.0 <= $0.element.1 })
        else {
            throw KilnError(.shapeMismatch, "indices \(indices.shape) do not fit data \(data.shape) along axis \(axis)")
        }
        return try Operands.ints(indices, "indices").map { try Operands.index($0, dim: data.shape[axis]) }
    }

    static func gatherElements(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let indicesTensor = try context.required(inputs, 1, node)
        let axis = try Operands.axis(try node.attributes.int("axis", default: 0), rank: data.rank)
        let indices = try elementIndices(data, indicesTensor, axis: axis)
        let output = try Operands.make(indicesTensor.shape, data.dtype) { out in
            try Operands.read(data) { source in
                Gather.gatherElements(
                    source, dataShape: data.shape, indices: indices, indicesShape: indicesTensor.shape, axis: axis,
                    elementSize: data.dtype.byteSize, into: out)
            }
        }
        return [output]
    }

    /// Index tuples of `indices` (last axis = tuple) resolved against `dims`.
    private static func tuples(_ indices: Tensor, dims: [Int]) throws -> [Int] {
        let depth = dims.count
        return try Operands.ints(indices, "indices").enumerated().map { position, value in
            try Operands.index(value, dim: dims[position % depth])
        }
    }

    static func gatherND(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let indices = try context.required(inputs, 1, node)
        let batchDims = try node.attributes.int("batch_dims", default: 0)
        guard indices.rank >= 1, let depth = indices.shape.last, batchDims >= 0,
            batchDims < Swift.min(data.rank, indices.rank), batchDims + depth <= data.rank,
            Array(data.shape.prefix(batchDims)) == Array(indices.shape.prefix(batchDims))
        else {
            throw KilnError(.shapeMismatch, "indices \(indices.shape) do not address data \(data.shape) with batch_dims \(batchDims)")
        }
        let flat = try tuples(indices, dims: Array(data.shape[batchDims..<(batchDims + depth)]))
        let shape = Array(indices.shape.dropLast()) + Array(data.shape.dropFirst(batchDims + depth))
        let tuplesPerBatch = Tensor.elementCount(Array(indices.shape.dropLast().dropFirst(batchDims)))
        let output = try Operands.make(shape, data.dtype) { out in
            try Operands.read(data) { source in
                Gather.gatherND(
                    source, dataShape: data.shape, batchDims: batchDims, indices: flat, indexDepth: depth,
                    tuplesPerBatch: tuplesPerBatch, elementSize: data.dtype.byteSize, into: out)
            }
        }
        return [output]
    }

    static func reduction(_ node: Node) throws -> ScatterReduction {
        let name = try node.attributes.string("reduction", default: "none")
        guard let reduction = ScatterReduction(rawValue: name) else {
            throw KilnError(.invalidArgument, "reduction '\(name)' is not one of none, add, mul, max, min")
        }
        return reduction
    }

    /// Copies `data` and applies `body` to the copy with the reduction's combiner for
    /// the element type.
    private static func scatter(
        _ data: Tensor, _ updates: Tensor, _ reduction: ScatterReduction,
        _ body: some ScatterApplication
    ) throws -> Tensor {
        guard updates.dtype == data.dtype else {
            throw KilnError(.shapeMismatch, "updates are \(updates.dtype) but data is \(data.dtype)")
        }
        var output = data
        func floating<T: TensorElement & BinaryFloatingPoint>(_ type: T.Type) {
            body.apply(&output, updates, Scatter.combiner(reduction, T.self))
        }
        func integer<T: TensorElement & FixedWidthInteger>(_ type: T.Type) {
            body.apply(&output, updates, Scatter.integerCombiner(reduction, T.self))
        }
        switch data.dtype {
        case .float32: floating(Float.self)
        case .float64: floating(Double.self)
        case .float16: floating(Float16.self)
        case .int8: integer(Int8.self)
        case .uint8: integer(UInt8.self)
        case .int16: integer(Int16.self)
        case .uint16: integer(UInt16.self)
        case .int32: integer(Int32.self)
        case .uint32: integer(UInt32.self)
        case .int64: integer(Int64.self)
        case .uint64: integer(UInt64.self)
        case .bool:
            guard reduction == .none else { throw KilnError(.kernelMissing, "no bool kernel for reduction '\(reduction)'") }
            body.apply(&output, updates) { (_: Bool, update: Bool) in update }
        }
        return output
    }

    static func scatterND(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let indices = try context.required(inputs, 1, node)
        let updates = try context.required(inputs, 2, node)
        guard indices.rank >= 1, let depth = indices.shape.last, depth <= data.rank,
            updates.shape == Array(indices.shape.dropLast()) + Array(data.shape.dropFirst(depth))
        else {
            throw KilnError(.shapeMismatch, "ScatterND shapes data \(data.shape), indices \(indices.shape), updates \(updates.shape) do not fit")
        }
        let flat = try tuples(indices, dims: Array(data.shape.prefix(depth)))
        let body = ScatterNDApplication(dataShape: data.shape, indices: flat, depth: depth)
        return [try scatter(data, updates, try reduction(node), body)]
    }

    static func scatterElements(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let indicesTensor = try context.required(inputs, 1, node)
        let updates = try context.required(inputs, 2, node)
        let axis = try Operands.axis(try node.attributes.int("axis", default: 0), rank: data.rank)
        let indices = try elementIndices(data, indicesTensor, axis: axis)
        guard updates.shape == indicesTensor.shape else {
            throw KilnError(.shapeMismatch, "updates \(updates.shape) must have the indices' shape \(indicesTensor.shape)")
        }
        let body = ScatterElementsApplication(
            dataShape: data.shape, indices: indices, indicesShape: indicesTensor.shape, axis: axis)
        return [try scatter(data, updates, try reduction(node), body)]
    }

    static func topK(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let kValues = try Operands.ints(try context.required(inputs, 1, node), "K")
        let axis = try Operands.axis(try node.attributes.int("axis", default: -1), rank: data.rank)
        guard kValues.count == 1, let k = kValues.first, k >= 0, k <= data.shape[axis] else {
            throw KilnError(.invalidArgument, "K \(kValues) must be one number in 0…\(data.shape[axis])")
        }
        var shape = data.shape
        shape[axis] = k
        let body = TopKBody(
            data: data, shape: shape, axis: axis, k: k,
            largest: try node.attributes.int("largest", default: 1) != 0)
        let (values, indices) = try Operands.withNumericType(data.dtype, "TopK", body)
        return [values, indices]
    }

    static func oneHot(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let indicesTensor = try context.required(inputs, 0, node)
        let depthValues = try context.required(inputs, 1, node).doubleScalars()
        let values = try context.required(inputs, 2, node)
        guard depthValues.count == 1, let depthValue = depthValues.first, depthValue >= 1, depthValue < 1e9 else {
            throw KilnError(.invalidArgument, "depth must be one positive number, got \(depthValues)")
        }
        guard values.count == 2 else { throw KilnError(.invalidArgument, "values must hold [off, on]") }
        let depth = Int(depthValue)
        let axisAttribute = try node.attributes.int("axis", default: -1)
        let axis = try Operands.axis(axisAttribute, rank: indicesTensor.rank + 1)
        let indices = indicesTensor.doubleScalars().map { value -> Int in
            guard value.isFinite, Swift.abs(value) < 1e15 else { return -1 }
            let index = Int(value)
            return index < 0 ? index + depth : index
        }
        var shape = indicesTensor.shape
        shape.insert(depth, at: axis)
        try Operands.checkedCount(shape)
        let output = Operands.make(shape, values.dtype) { out in
            OneHot.oneHot(
                indices: indices, outer: Tensor.elementCount(Array(indicesTensor.shape.prefix(axis))), depth: depth,
                inner: Tensor.elementCount(Array(indicesTensor.shape.dropFirst(axis))),
                off: Operands.elementBytes(values, at: 0), on: Operands.elementBytes(values, at: 1),
                elementSize: values.dtype.byteSize, into: out)
        }
        return [output]
    }

    static func nonZero(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let found: (count: Int, coordinates: [Int64])
        if data.dtype == .bool {
            found = data.withUnsafeBufferPointer(as: Bool.self) { NonZero.coordinates($0, shape: data.shape) { $0 } }
        } else {
            found = try Operands.withNumericType(data.dtype, "NonZero", NonZeroBody(data: data))
        }
        return [Tensor(shape: [data.rank, found.count], scalars: found.coordinates)]
    }

    static func trilu(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        guard data.rank >= 2 else { throw KilnError(.invalidArgument, "Trilu needs rank ≥ 2, got \(data.shape)") }
        let diagonal = try Operands.optionalInts(inputs, 1, "k")?.first ?? 0
        let rows = data.shape[data.rank - 2]
        let columns = data.shape[data.rank - 1]
        let output = try Operands.make(data.shape, data.dtype) { out in
            try Operands.read(data) { source in
                Trilu.trilu(
                    source, batches: Tensor.elementCount(Array(data.shape.dropLast(2))), rows: rows, columns: columns,
                    diagonal: Swift.min(Swift.max(diagonal, -rows - 1), columns + 1),
                    upper: try node.attributes.int("upper", default: 1) != 0, elementSize: data.dtype.byteSize,
                    into: out)
            }
        }
        return [output]
    }

    static func range(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let start = try context.required(inputs, 0, node)
        let limit = try context.required(inputs, 1, node)
        let delta = try context.required(inputs, 2, node)
        guard start.count == 1, limit.count == 1, delta.count == 1, start.dtype == limit.dtype, start.dtype == delta.dtype
        else {
            throw KilnError(.invalidArgument, "start, limit and delta must be scalars of one dtype")
        }
        let values = [start, limit, delta].map { $0.doubleScalars()[0] }
        guard let count = RangeFill.count(start: values[0], limit: values[1], delta: values[2]) else {
            throw KilnError(.invalidArgument, "Range(\(values[0]), \(values[1]), \(values[2])) has no finite length")
        }
        var output = Tensor(zeros: [count], dtype: start.dtype)
        func floating<T: TensorElement & BinaryFloatingPoint>(_ type: T.Type) {
            let first = start.scalars(as: T.self)[0]
            let step = delta.scalars(as: T.self)[0]
            output.withUnsafeMutableBufferPointer(as: T.self) { RangeFill.fill($0, start: first, delta: step) }
        }
        func integer<T: TensorElement & FixedWidthInteger>(_ type: T.Type) {
            let first = start.scalars(as: T.self)[0]
            let step = delta.scalars(as: T.self)[0]
            output.withUnsafeMutableBufferPointer(as: T.self) { RangeFill.fill($0, start: first, delta: step) }
        }
        switch start.dtype {
        case .float32: floating(Float.self)
        case .float64: floating(Double.self)
        case .float16: floating(Float16.self)
        case .int8: integer(Int8.self)
        case .uint8: integer(UInt8.self)
        case .int16: integer(Int16.self)
        case .uint16: integer(UInt16.self)
        case .int32: integer(Int32.self)
        case .uint32: integer(UInt32.self)
        case .int64: integer(Int64.self)
        case .uint64: integer(UInt64.self)
        case .bool: throw KilnError(.kernelMissing, "no bool kernel")
        }
        return [output]
    }
}

/// A scatter kernel call, generic over the element type.
private protocol ScatterApplication {
    func apply<T: TensorElement>(
        _ output: UnsafeMutableBufferPointer<T>, _ updates: UnsafeBufferPointer<T>, _ combine: (T, T) -> T)
}

private struct ScatterNDApplication: ScatterApplication {
    let dataShape: [Int]
    let indices: [Int]
    let depth: Int

    func apply<T: TensorElement>(
        _ output: UnsafeMutableBufferPointer<T>, _ updates: UnsafeBufferPointer<T>, _ combine: (T, T) -> T
    ) {
        Scatter.scatterND(
            into: output, dataShape: dataShape, indices: indices, indexDepth: depth, updates: updates, combine: combine)
    }
}

private struct ScatterElementsApplication: ScatterApplication {
    let dataShape: [Int]
    let indices: [Int]
    let indicesShape: [Int]
    let axis: Int

    func apply<T: TensorElement>(
        _ output: UnsafeMutableBufferPointer<T>, _ updates: UnsafeBufferPointer<T>, _ combine: (T, T) -> T
    ) {
        Scatter.scatterElements(
            into: output, dataShape: dataShape, indices: indices, indicesShape: indicesShape, axis: axis,
            updates: updates, combine: combine)
    }
}

extension ScatterApplication {
    /// Runs the scatter on `output` (a copy of the data) with typed buffers.
    func apply<T: TensorElement>(_ output: inout Tensor, _ updates: Tensor, _ combine: (T, T) -> T) {
        output.withUnsafeMutableBufferPointer(as: T.self) { target in
            updates.withUnsafeBufferPointer(as: T.self) { source in apply(target, source, combine) }
        }
    }
}

private struct TopKBody: DataMovementNumericBody {
    let data: Tensor
    let shape: [Int]
    let axis: Int
    let k: Int
    let largest: Bool

    func run<T: TensorElement & Numeric & Comparable>(_ type: T.Type) throws -> (Tensor, Tensor) {
        var values = Tensor(zeros: shape, dtype: data.dtype)
        var indices = Tensor(zeros: shape, dtype: .int64)
        let isBefore: (T, T) -> Bool = largest ? { $0 > $1 } : { $0 < $1 }
        data.withUnsafeBufferPointer(as: T.self) { input in
            values.withUnsafeMutableBufferPointer(as: T.self) { valueBuffer in
                indices.withUnsafeMutableBufferPointer(as: Int64.self) { indexBuffer in
                    TopK.topK(
                        input, outer: Tensor.elementCount(Array(data.shape.prefix(axis))), axisDim: data.shape[axis],
                        inner: Tensor.elementCount(Array(data.shape.dropFirst(axis + 1))), k: k, isBefore: isBefore,
                        values: valueBuffer, indices: indexBuffer)
                }
            }
        }
        return (values, indices)
    }
}

private struct NonZeroBody: DataMovementNumericBody {
    let data: Tensor

    func run<T: TensorElement & Numeric & Comparable>(_ type: T.Type) throws -> (count: Int, coordinates: [Int64]) {
        data.withUnsafeBufferPointer(as: T.self) { NonZero.coordinates($0, shape: data.shape) { $0 != .zero } }
    }
}
