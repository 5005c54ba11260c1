import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// Evaluators of the DataMovement family (layout ops here; indexing and resampling in
    /// `Evaluators+DataMovementIndexing.swift` and `Evaluators+DataMovementResize.swift`).
    static let dataMovement: [OpKind: Evaluator] = {
        var table: [OpKind: Evaluator] = [
            .reshape: Layout.reshape,
            .flatten: Layout.flatten,
            .squeeze: Layout.squeeze,
            .unsqueeze: Layout.unsqueeze,
            .transpose: Layout.transpose,
            .concat: Layout.concat,
            .split: Layout.split,
            .slice: Layout.slice,
            .expand: Layout.expand,
            .tile: Layout.tile,
            .shape: Layout.shape,
            .size: Layout.size,
            .constantOfShape: Layout.constantOfShape,
            .depthToSpace: Layout.depthToSpace,
            .spaceToDepth: Layout.spaceToDepth,
        ]
        table.merge(dataMovementIndexing) { _, new in new }
        table.merge(dataMovementResize) { _, new in new }
        return table
    }()

    /// The `perm` of a Transpose `node` with an input of `rank` (reversed axes by default).
    ///
    /// - Throws: `invalidArgument` unless it is a permutation of `0..<rank`.
    package static func transposePermutation(_ node: Node, rank: Int) throws -> [Int] {
        let permutation = try node.attributes.ints("perm") ?? Array((0..<rank).reversed())
        guard permutation.count == rank, Set(permutation) == Set(0..<rank) else {
            throw KilnError(.invalidArgument, "perm \(permutation) is not a permutation of \(rank) axes")
        }
        return permutation
    }
}

private typealias Operands = DataMovementOperands

/// Reshaping, reordering and copying ops.
private enum Layout {
    static func reshape(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let requested = try Operands.ints(try context.required(inputs, 1, node), "shape")
        let allowZero = try node.attributes.int("allowzero", default: 0) != 0
        return [data.reshaped(try reshapedShape(data.shape, requested, allowZero: allowZero))]
    }

    /// Reshape's target: 0 copies the input dim (unless `allowZero`), -1 is inferred.
    static func reshapedShape(_ shape: [Int], _ requested: [Int], allowZero: Bool) throws -> [Int] {
        var result = requested
        var inferred: Int?
        for (axis, dim) in requested.enumerated() {
            if dim == 0 && !allowZero {
                guard axis < shape.count else {
                    throw KilnError(.invalidArgument, "shape \(requested) copies axis \(axis) of \(shape), which has no such axis")
                }
                result[axis] = shape[axis]
            } else if dim == -1 {
                guard inferred == nil else { throw KilnError(.invalidArgument, "shape \(requested) has two -1 entries") }
                inferred = axis
            } else if dim < 0 {
                throw KilnError(.invalidArgument, "shape \(requested) has a negative entry")
            }
        }
        let total = Tensor.elementCount(shape)
        if let inferred {
            result[inferred] = 1
            let known = try Operands.checkedCount(result)
            guard known > 0, total % known == 0 else {
                throw KilnError(.invalidArgument, "cannot reshape \(shape) to \(requested)")
            }
            result[inferred] = total / known
        }
        guard try Operands.checkedCount(result) == total else {
            throw KilnError(.invalidArgument, "cannot reshape \(shape) (\(total) elements) to \(requested)")
        }
        return result
    }

    static func flatten(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let attribute = try node.attributes.int("axis", default: 1)
        let axis = attribute < 0 ? attribute + data.rank : attribute
        guard axis >= 0, axis <= data.rank else {
            throw KilnError(.invalidArgument, "axis \(attribute) is out of range for rank \(data.rank)")
        }
        let outer = Tensor.elementCount(Array(data.shape.prefix(axis)))
        return [data.reshaped([outer, Tensor.elementCount(Array(data.shape.dropFirst(axis)))])]
    }

    static func squeeze(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        guard let requested = try Operands.optionalInts(inputs, 1, "axes") else {
            return [data.reshaped(data.shape.filter { $0 != 1 })]
        }
        let axes = Set(try requested.map { try Operands.axis($0, rank: data.rank) })
        for axis in axes where data.shape[axis] != 1 {
            throw KilnError(.invalidArgument, "cannot squeeze axis \(axis) of \(data.shape): it is not 1")
        }
        return [data.reshaped(data.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))]
    }

    static func unsqueeze(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let requested = try Operands.ints(try context.required(inputs, 1, node), "axes")
        let rank = data.rank + requested.count
        let axes = Set(try requested.map { try Operands.axis($0, rank: rank) })
        guard axes.count == requested.count else {
            throw KilnError(.invalidArgument, "axes \(requested) repeat an axis")
        }
        var remaining = data.shape.makeIterator()
        let shape = (0..<rank).map { axes.contains($0) ? 1 : (remaining.next() ?? 1) }
        return [data.reshaped(shape)]
    }

    static func transpose(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let permutation = try Evaluators.transposePermutation(node, rank: data.rank)
        var output = context.makeOutput(0, zeros: permutation.map { data.shape[$0] }, dtype: data.dtype)
        try Operands.fill(&output) { out in
            try Operands.read(data) { source in
                StridedCopy.transpose(
                    source, shape: data.shape, permutation: permutation, elementSize: data.dtype.byteSize,
                    into: out, threads: context.threads)
            }
        }
        return [output]
    }

    static func concat(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let parts = inputs.compactMap { $0 }
        guard let first = parts.first else { throw KilnError(.invalidModel, "Concat has no inputs") }
        let axis = try Operands.axis(try node.attributes.int("axis", default: 0), rank: first.rank)
        for part in parts {
            guard part.dtype == first.dtype, part.rank == first.rank,
                part.shape.enumerated().allSatisfy({ $0.offset == axis || $0.element == first.shape[$0.offset] })
            else {
                throw KilnError(.shapeMismatch, "cannot concatenate \(parts.map(\.description)) along axis \(axis)")
            }
        }
        var axisDims: [Int] = []
        axisDims.reserveCapacity(parts.count)
        for part in parts { axisDims.append(part.shape[axis]) }
        var shape = first.shape
        shape[axis] = axisDims.reduce(0, +)
        let outer = Tensor.elementCount(Array(first.shape.prefix(axis)))
        let inner = Tensor.elementCount(Array(first.shape.dropFirst(axis + 1)))
        var output = context.makeOutput(0, zeros: shape, dtype: first.dtype)
        Operands.fill(&output) { out in
            // `parts` holds every input's storage for the copy, so their addresses stay valid.
            withExtendedLifetime(parts) {
                Concat.concat(
                    parts.map { $0.baseAddress }, axisDims: axisDims, outer: outer, inner: inner,
                    elementSize: first.dtype.byteSize, into: out)
            }
        }
        return [output]
    }

    static func split(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let axis = try Operands.axis(try node.attributes.int("axis", default: 0), rank: data.rank)
        let dim = data.shape[axis]
        let sizes: [Int]
        if let split = try Operands.optionalInts(inputs, 1, "split") {
            guard split.allSatisfy({ $0 >= 0 && $0 <= dim }), split.reduce(0, +) == dim else {
                throw KilnError(.invalidArgument, "split \(split) does not sum to \(dim)")
            }
            sizes = split
        } else {
            let parts = try node.attributes.int("num_outputs") ?? node.outputs.count
            guard parts > 0 else { throw KilnError(.invalidArgument, "Split needs at least one output") }
            let chunk = (dim + parts - 1) / parts
            sizes = (0..<parts).map { Swift.max(0, Swift.min(chunk, dim - $0 * chunk)) }
        }
        guard sizes.count == node.outputs.count else {
            throw KilnError(.invalidArgument, "split into \(sizes.count) parts but the node has \(node.outputs.count) outputs")
        }
        let outer = Tensor.elementCount(Array(data.shape.prefix(axis)))
        let inner = Tensor.elementCount(Array(data.shape.dropFirst(axis + 1)))
        var outputs = sizes.enumerated().map { index, size -> Tensor in
            var shape = data.shape
            shape[axis] = size
            return context.makeOutput(index, zeros: shape, dtype: data.dtype)
        }
        try Operands.read(data) { source in
            try withMutableBaseAddresses(&outputs) { pointers in
                Concat.split(
                    source, axisDims: sizes, outer: outer, inner: inner, elementSize: data.dtype.byteSize,
                    into: pointers)
            }
        }
        return outputs
    }

    /// Calls `body` with the writable base addresses of `tensors`.
    private static func withMutableBaseAddresses(
        _ tensors: inout [Tensor], _ body: ([UnsafeMutableRawPointer]) throws -> Void
    ) throws {
        var pointers: [UnsafeMutableRawPointer] = []
        // Each output is freshly allocated and uniquely owned, so its storage stays put.
        for index in tensors.indices {
            try tensors[index].withUnsafeMutableBytes { buffer in
                guard let base = buffer.baseAddress else { throw KilnError(.invalidArgument, "output has no storage") }
                pointers.append(base)
            }
        }
        try body(pointers)
    }

    static func slice(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let starts = try Operands.ints(try context.required(inputs, 1, node), "starts")
        let ends = try Operands.ints(try context.required(inputs, 2, node), "ends")
        let axes = try Operands.optionalInts(inputs, 3, "axes") ?? Array(0..<starts.count)
        let steps = try Operands.optionalInts(inputs, 4, "steps") ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
            throw KilnError(.invalidArgument, "starts, ends, axes and steps must have the same length")
        }
        let strides = Tensor.strides(data.shape)
        var shape = data.shape
        var viewStrides = strides
        var offset = 0
        var seen = Set<Int>()
        for index in starts.indices {
            let axis = try Operands.axis(axes[index], rank: data.rank)
            guard seen.insert(axis).inserted else { throw KilnError(.invalidArgument, "axes \(axes) repeat an axis") }
            // A step beyond the extent picks at most one element; clamping keeps the math in range.
            let dim = data.shape[axis]
            let step = Swift.min(Swift.max(steps[index], -(dim + 1)), dim + 1)
            let (start, count) = try SliceBounds.range(start: starts[index], end: ends[index], step: step, dim: dim)
            shape[axis] = count
            viewStrides[axis] = strides[axis] * step
            if count > 0 { offset += start * strides[axis] }
        }
        var output = context.makeOutput(0, zeros: shape, dtype: data.dtype)
        try Operands.fill(&output) { out in
            try Operands.read(data) { source in
                StridedCopy.copy(
                    from: source, offset: offset, strides: viewStrides, shape: shape,
                    elementSize: data.dtype.byteSize, to: out, threads: context.threads)
            }
        }
        return [output]
    }

    static func expand(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let requested = try Operands.ints(try context.required(inputs, 1, node), "shape")
        let shape = try Broadcast.checkedShape([data.shape, requested])
        try Operands.checkedCount(shape)
        var output = context.makeOutput(0, zeros: shape, dtype: data.dtype)
        try Operands.fill(&output) { out in
            try Operands.read(data) { source in
                StridedCopy.expand(
                    source, shape: data.shape, to: shape, elementSize: data.dtype.byteSize, into: out,
                    threads: context.threads)
            }
        }
        return [output]
    }

    static func tile(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let repeats = try Operands.ints(try context.required(inputs, 1, node), "repeats")
        guard repeats.count == data.rank, repeats.allSatisfy({ $0 >= 0 }) else {
            throw KilnError(.invalidArgument, "repeats \(repeats) must be \(data.rank) non-negative numbers")
        }
        try Operands.checkedCount(data.shape + repeats)
        let shape = zip(data.shape, repeats).map(*)
        var output = context.makeOutput(0, zeros: shape, dtype: data.dtype)
        try Operands.fill(&output) { out in
            try Operands.read(data) { source in
                StridedCopy.tile(
                    source, shape: data.shape, repeats: repeats, elementSize: data.dtype.byteSize, into: out,
                    threads: context.threads)
            }
        }
        return [output]
    }

    static func shape(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let range = try shapeRange(node.attributes, rank: data.rank)
        let dims = data.shape[range].map { Int64($0) }
        return [Tensor(shape: [dims.count], scalars: Array(dims))]
    }

    /// Shape's `start`/`end` attributes, clamped to the rank.
    static func shapeRange(_ attributes: Attributes, rank: Int) throws -> Range<Int> {
        func clamp(_ value: Int) -> Int { Swift.min(Swift.max(value < 0 ? value + rank : value, 0), rank) }
        let start = clamp(try attributes.int("start", default: 0))
        let end = clamp(try attributes.int("end", default: rank))
        return start..<Swift.max(start, end)
    }

    static func size(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        [Tensor(scalar: Int64(try context.required(inputs, 0, node).count))]
    }

    static func constantOfShape(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let shape = try Operands.ints(try context.required(inputs, 0, node), "shape")
        try Operands.checkedCount(shape)
        let value = try node.attributes.tensor("value") ?? Tensor(shape: [1], scalars: [Float(0)])
        guard value.count == 1 else { throw KilnError(.invalidArgument, "value must hold one element") }
        let bytes = Operands.elementBytes(value, at: 0)
        let size = value.dtype.byteSize
        let output = Operands.make(shape, value.dtype) { out in
            guard bytes.contains(where: { $0 != 0 }) else { return }
            bytes.withUnsafeBytes { element in
                guard let pointer = element.baseAddress else { return }
                for index in 0..<Tensor.elementCount(shape) {
                    (out + index * size).copyMemory(from: pointer, byteCount: size)
                }
            }
        }
        return [output]
    }

    static func depthToSpace(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let block = try node.attributes.int("blocksize", default: 0)
        guard data.rank == 4, block > 0, block < 1 << 16, data.shape[1] % (block * block) == 0 else {
            throw KilnError(.invalidArgument, "DepthToSpace needs a 4-D input whose channels divide by blocksize² (got \(data.shape), blocksize \(block))")
        }
        let (n, c, h, w) = (data.shape[0], data.shape[1], data.shape[2], data.shape[3])
        let depth = c / (block * block)
        let isCRD = try node.attributes.string("mode", default: "DCR") == "CRD"
        let viewShape = isCRD ? [n, depth, block, block, h, w] : [n, block, block, depth, h, w]
        let permutation = isCRD ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2]
        return [try permuted(data, viewShape: viewShape, permutation: permutation, to: [n, depth, h * block, w * block], context)]
    }

    static func spaceToDepth(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let block = try node.attributes.int("blocksize", default: 0)
        guard data.rank == 4, block > 0, block < 1 << 16, data.shape[2] % block == 0, data.shape[3] % block == 0 else {
            throw KilnError(.invalidArgument, "SpaceToDepth needs a 4-D input whose height and width divide by blocksize (got \(data.shape), blocksize \(block))")
        }
        let (n, c, h, w) = (data.shape[0], data.shape[1], data.shape[2], data.shape[3])
        let isCRD = try node.attributes.string("mode", default: "DCR") == "CRD"
        let viewShape = [n, c, h / block, block, w / block, block]
        let permutation = isCRD ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4]
        return [try permuted(data, viewShape: viewShape, permutation: permutation, to: [n, c * block * block, h / block, w / block], context)]
    }

    /// `data` viewed as `viewShape`, transposed by `permutation`, reshaped to `shape`.
    private static func permuted(
        _ data: Tensor, viewShape: [Int], permutation: [Int], to shape: [Int], _ context: EvalContext
    ) throws -> Tensor {
        try Operands.make(shape, data.dtype) { out in
            try Operands.read(data) { source in
                StridedCopy.transpose(
                    source, shape: viewShape, permutation: permutation, elementSize: data.dtype.byteSize,
                    into: out, threads: context.threads)
            }
        }
    }
}
