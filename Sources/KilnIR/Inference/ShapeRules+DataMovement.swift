import KilnCore

extension ShapeRules {
    /// Shape rules of the DataMovement family (layout ops here; indexing and resampling in
    /// `ShapeRules+DataMovementIndexing.swift`).
    ///
    /// Shape values (``InferredOutput/shapeValue``) flow through Shape, Gather, Concat,
    /// Slice, Squeeze, Unsqueeze and Reshape, so a shape computed from a symbolic input
    /// (`batch`) keeps its symbols when Reshape, Expand, Tile, ConstantOfShape or Range
    /// consume it. A 0-D integer value's shape value is its one element.
    static let dataMovement: [OpKind: ShapeRule] = {
        var table: [OpKind: ShapeRule] = [
            .reshape: LayoutRules.reshape,
            .flatten: LayoutRules.flatten,
            .squeeze: LayoutRules.squeeze,
            .unsqueeze: LayoutRules.unsqueeze,
            .transpose: LayoutRules.transpose,
            .concat: LayoutRules.concat,
            .split: LayoutRules.split,
            .slice: LayoutRules.slice,
            .expand: LayoutRules.expand,
            .tile: LayoutRules.tile,
            .shape: LayoutRules.shape,
            .size: LayoutRules.size,
            .constantOfShape: LayoutRules.constantOfShape,
            .depthToSpace: LayoutRules.depthToSpace,
            .spaceToDepth: LayoutRules.spaceToDepth,
        ]
        table.merge(dataMovementIndexing) { _, new in new }
        return table
    }()
}

/// Arithmetic on possibly symbolic dimensions.
enum DataMovementDims {
    /// The product: known when every factor is, one symbol when the others are known 1s.
    static func product(_ dims: [Dim]) -> Dim {
        if dims.contains(.known(0)) { return .known(0) }
        var known = 1
        var symbols: [Dim] = []
        for dim in dims {
            switch dim {
            case .known(let value):
                let (product, overflow) = known.multipliedReportingOverflow(by: value)
                if overflow { return .unknown }
                known = product
            case .symbol: symbols.append(dim)
            case .unknown: return .unknown
            }
        }
        if symbols.isEmpty { return .known(known) }
        return symbols.count == 1 && known == 1 ? symbols[0] : .unknown
    }

    /// The sum: known when every term is, one symbol when the others are known 0s.
    static func sum(_ dims: [Dim]) -> Dim {
        var known = 0
        var symbols: [Dim] = []
        for dim in dims {
            switch dim {
            case .known(let value):
                let (total, overflow) = known.addingReportingOverflow(value)
                if overflow { return .unknown }
                known = total
            case .symbol: symbols.append(dim)
            case .unknown: return .unknown
            }
        }
        if symbols.isEmpty { return .known(known) }
        return symbols.count == 1 && known == 0 ? symbols[0] : .unknown
    }

    /// `axis` resolved against `rank`, or `nil` when out of range.
    static func axis(_ axis: Int, rank: Int) -> Int? {
        let resolved = axis < 0 ? axis + rank : axis
        return resolved >= 0 && resolved < rank ? resolved : nil
    }

    /// `dims` with every symbol and unknown kept, as a list of rank-known unknowns when
    /// only the count is known.
    static func unknowns(_ count: Int) -> [Dim] { [Dim](repeating: .unknown, count: count) }

    /// Numpy broadcasting of two symbolic shapes; `nil` when they can never broadcast.
    static func broadcast(_ lhs: [Dim], _ rhs: [Dim]) -> [Dim]? {
        let rank = Swift.max(lhs.count, rhs.count)
        var result: [Dim] = []
        for axis in 0..<rank {
            let left = axis - (rank - lhs.count)
            let right = axis - (rank - rhs.count)
            let a: Dim = left >= 0 ? lhs[left] : .known(1)
            let b: Dim = right >= 0 ? rhs[right] : .known(1)
            switch (a, b) {
            case (.known(1), _): result.append(b)
            case (_, .known(1)): result.append(a)
            case (.known(let x), .known(let y)):
                guard x == y else { return nil }
                result.append(a)
            case (.known, _): result.append(a)
            case (_, .known): result.append(b)
            default: result.append(a == b ? a : .unknown)
            }
        }
        return result
    }
}

private enum LayoutRules {
    static func same(_ context: ShapeContext) -> [InferredOutput] {
        [InferredOutput(context.type(0))]
    }

    static func reshape(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        guard let requested = context.dims(1) else {
            let length = context.type(1).staticShape?.first
            return [InferredOutput(TensorType(dtype: input.dtype, shape: length.map(DataMovementDims.unknowns)))]
        }
        let allowZero = (try context.node.attributes.int("allowzero", default: 0)) != 0
        var result = requested
        var inferred: Int?
        for (axis, dim) in requested.enumerated() {
            switch dim {
            case .known(0) where !allowZero:
                if let shape = input.shape {
                    guard axis < shape.count else {
                        throw KilnError(.shapeMismatch, "shape \(requested) copies axis \(axis) of a rank-\(shape.count) input")
                    }
                    result[axis] = shape[axis]
                } else {
                    result[axis] = .unknown
                }
            case .known(-1):
                inferred = axis
            case .known(let value) where value < 0:
                throw KilnError(.shapeMismatch, "shape \(requested) has a negative entry")
            default:
                break
            }
        }
        if let inferred {
            result[inferred] = inferredDim(input: input.shape, output: result, skipping: inferred)
        }
        let shapeValue = result.count <= 1 ? context.dims(0) : nil
        return [InferredOutput(TensorType(dtype: input.dtype, shape: result), shapeValue: shapeValue)]
    }

    /// The -1 entry of a reshape: input elements over the other output entries, with
    /// symbols that appear on both sides cancelled.
    static func inferredDim(input: [Dim]?, output: [Dim], skipping: Int) -> Dim {
        guard let input else { return .unknown }
        var inputSymbols: [String] = []
        var inputKnown = 1
        for dim in input {
            switch dim {
            case .known(let value):
                let (product, overflow) = inputKnown.multipliedReportingOverflow(by: value)
                if overflow { return .unknown }
                inputKnown = product
            case .symbol(let name): inputSymbols.append(name)
            case .unknown: return .unknown
            }
        }
        var outputKnown = 1
        for (axis, dim) in output.enumerated() where axis != skipping {
            switch dim {
            case .known(let value):
                let (product, overflow) = outputKnown.multipliedReportingOverflow(by: value)
                if overflow { return .unknown }
                outputKnown = product
            case .symbol(let name):
                guard let match = inputSymbols.firstIndex(of: name) else { return .unknown }
                inputSymbols.remove(at: match)
            case .unknown: return .unknown
            }
        }
        guard outputKnown > 0, inputKnown % outputKnown == 0 else { return .unknown }
        let ratio = inputKnown / outputKnown
        if inputSymbols.isEmpty { return .known(ratio) }
        return inputSymbols.count == 1 && ratio == 1 ? .symbol(inputSymbols[0]) : .unknown
    }

    static func flatten(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        guard let shape = input.shape else { return [InferredOutput(TensorType(dtype: input.dtype, shape: DataMovementDims.unknowns(2)))] }
        let attribute = try context.node.attributes.int("axis", default: 1)
        let axis = attribute < 0 ? attribute + shape.count : attribute
        guard axis >= 0, axis <= shape.count else {
            throw KilnError(.shapeMismatch, "axis \(attribute) is out of range for rank \(shape.count)")
        }
        let dims = [DataMovementDims.product(Array(shape.prefix(axis))), DataMovementDims.product(Array(shape.dropFirst(axis)))]
        return [InferredOutput(TensorType(dtype: input.dtype, shape: dims))]
    }

    static func squeeze(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        guard let shape = input.shape else { return [InferredOutput(TensorType(dtype: input.dtype, shape: nil))] }
        var result: [Dim]?
        if context.hasInput(1) {
            if let requested = context.ints(1) {
                let axes = Set(requested.compactMap { DataMovementDims.axis($0, rank: shape.count) })
                result = shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
            }
        } else if shape.allSatisfy({ $0.value != nil }) {
            result = shape.filter { $0 != .known(1) }
        }
        let shapeValue = (result?.count ?? 2) <= 1 ? context.dims(0) : nil
        return [InferredOutput(TensorType(dtype: input.dtype, shape: result), shapeValue: shapeValue)]
    }

    static func unsqueeze(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        guard let shape = input.shape, let requested = context.ints(1) else {
            return [InferredOutput(TensorType(dtype: input.dtype, shape: nil))]
        }
        let rank = shape.count + requested.count
        let axes = Set(requested.compactMap { DataMovementDims.axis($0, rank: rank) })
        var remaining = shape.makeIterator()
        let result = (0..<rank).map { axes.contains($0) ? Dim.known(1) : (remaining.next() ?? .unknown) }
        let shapeValue = result.count <= 1 ? context.dims(0) : nil
        return [InferredOutput(TensorType(dtype: input.dtype, shape: result), shapeValue: shapeValue)]
    }

    static func transpose(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        guard let shape = input.shape else { return [InferredOutput(TensorType(dtype: input.dtype, shape: nil))] }
        let permutation = try context.node.attributes.ints("perm") ?? Array((0..<shape.count).reversed())
        guard permutation.count == shape.count, Set(permutation) == Set(0..<shape.count) else {
            throw KilnError(.shapeMismatch, "perm \(permutation) is not a permutation of \(shape.count) axes")
        }
        return [InferredOutput(TensorType(dtype: input.dtype, shape: permutation.map { shape[$0] }))]
    }

    static func concat(_ context: ShapeContext) throws -> [InferredOutput] {
        let types = context.node.inputs.indices.filter { context.hasInput($0) }.map { context.type($0) }
        let dtype = types.compactMap(\.dtype).first
        let shapes = types.compactMap(\.shape)
        guard shapes.count == types.count, let first = shapes.first else {
            let rank = types.compactMap(\.shape).first?.count
            return [InferredOutput(TensorType(dtype: dtype, shape: rank.map(DataMovementDims.unknowns)))]
        }
        guard let axis = DataMovementDims.axis(try context.node.attributes.int("axis", default: 0), rank: first.count),
            shapes.allSatisfy({ $0.count == first.count })
        else {
            throw KilnError(.shapeMismatch, "inputs of ranks \(shapes.map(\.count)) cannot be concatenated on that axis")
        }
        var result = first
        for other in 0..<first.count where other != axis {
            result[other] = shapes.map { $0[other] }.first { $0.value != nil } ?? shapes.map { $0[other] }.first { $0 != .unknown } ?? .unknown
        }
        result[axis] = DataMovementDims.sum(shapes.map { $0[axis] })
        var shapeValue: [Dim]?
        if first.count == 1 {
            var joined: [Dim] = []
            for index in context.node.inputs.indices where context.hasInput(index) {
                guard let dims = context.dims(index) else {
                    joined = []
                    shapeValue = nil
                    break
                }
                joined += dims
                shapeValue = joined
            }
        }
        return [InferredOutput(TensorType(dtype: dtype, shape: result), shapeValue: shapeValue)]
    }

    static func split(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        let count = context.node.outputs.count
        guard let shape = input.shape,
            let axis = DataMovementDims.axis(try context.node.attributes.int("axis", default: 0), rank: shape.count)
        else {
            return [InferredOutput](repeating: InferredOutput(TensorType(dtype: input.dtype, shape: input.shape.map { DataMovementDims.unknowns($0.count) })), count: count)
        }
        var sizes: [Dim]
        if context.hasInput(1) {
            sizes = context.ints(1).map { $0.map(Dim.known) } ?? DataMovementDims.unknowns(count)
        } else if let dim = shape[axis].value {
            let parts = max(1, try context.node.attributes.int("num_outputs") ?? count)
            let chunk = (dim + parts - 1) / parts
            sizes = (0..<parts).map { .known(Swift.max(0, Swift.min(chunk, dim - $0 * chunk))) }
        } else {
            sizes = DataMovementDims.unknowns(count)
        }
        if sizes.count != count { sizes = DataMovementDims.unknowns(count) }
        return sizes.map { size in
            var result = shape
            result[axis] = size
            return InferredOutput(TensorType(dtype: input.dtype, shape: result))
        }
    }

    static func slice(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        guard let shape = input.shape else { return [InferredOutput(TensorType(dtype: input.dtype, shape: nil))] }
        guard let starts = context.ints(1), let ends = context.ints(2) else {
            return [InferredOutput(TensorType(dtype: input.dtype, shape: DataMovementDims.unknowns(shape.count)))]
        }
        let axes = context.hasInput(3) ? context.ints(3) : Array(0..<starts.count)
        let steps = context.hasInput(4) ? context.ints(4) : [Int](repeating: 1, count: starts.count)
        guard let axes, let steps, ends.count == starts.count, axes.count == starts.count, steps.count == starts.count,
            !steps.contains(0)
        else {
            return [InferredOutput(TensorType(dtype: input.dtype, shape: DataMovementDims.unknowns(shape.count)))]
        }
        var result = shape
        for index in starts.indices {
            guard let axis = DataMovementDims.axis(axes[index], rank: shape.count) else {
                throw KilnError(.shapeMismatch, "Slice axis \(axes[index]) is out of range for rank \(shape.count)")
            }
            let isWhole = starts[index] == 0 && steps[index] == 1 && ends[index] >= Int(Int32.max)
            if isWhole { continue }
            guard let dim = shape[axis].value else {
                result[axis] = .unknown
                continue
            }
            result[axis] = .known(try SliceBounds.range(start: starts[index], end: ends[index], step: steps[index], dim: dim).count)
        }
        var shapeValue: [Dim]?
        if shape.count == 1, let values = context.dims(0), starts.count == 1, steps[0] != 0 {
            let range = try SliceBounds.range(start: starts[0], end: ends[0], step: steps[0], dim: values.count)
            shapeValue = (0..<range.count).map { values[range.start + $0 * steps[0]] }
        }
        return [InferredOutput(TensorType(dtype: input.dtype, shape: result), shapeValue: shapeValue)]
    }

    static func expand(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        guard let shape = input.shape, let requested = context.dims(1) else {
            return [InferredOutput(TensorType(dtype: input.dtype, shape: nil))]
        }
        guard let result = DataMovementDims.broadcast(shape, requested) else {
            throw KilnError(.shapeMismatch, "cannot expand \(shape) to \(requested)")
        }
        return [InferredOutput(TensorType(dtype: input.dtype, shape: result))]
    }

    static func tile(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        guard let shape = input.shape else { return [InferredOutput(TensorType(dtype: input.dtype, shape: nil))] }
        guard let repeats = context.dims(1), repeats.count == shape.count else {
            return [InferredOutput(TensorType(dtype: input.dtype, shape: DataMovementDims.unknowns(shape.count)))]
        }
        return [InferredOutput(TensorType(dtype: input.dtype, shape: zip(shape, repeats).map { DataMovementDims.product([$0, $1]) }))]
    }

    static func shape(_ context: ShapeContext) throws -> [InferredOutput] {
        guard let shape = context.type(0).shape else {
            return [InferredOutput(TensorType(dtype: .int64, shape: [.unknown]))]
        }
        let rank = shape.count
        func clamp(_ value: Int) -> Int { Swift.min(Swift.max(value < 0 ? value + rank : value, 0), rank) }
        let start = clamp(try context.node.attributes.int("start", default: 0))
        let end = Swift.max(start, clamp(try context.node.attributes.int("end", default: rank)))
        let dims = Array(shape[start..<end])
        return [InferredOutput(TensorType(dtype: .int64, shape: [.known(dims.count)]), shapeValue: dims)]
    }

    static func size(_ context: ShapeContext) throws -> [InferredOutput] {
        let count = context.type(0).shape.map(DataMovementDims.product)
        return [InferredOutput(TensorType(dtype: .int64, shape: []), shapeValue: count.map { [$0] })]
    }

    static func constantOfShape(_ context: ShapeContext) throws -> [InferredOutput] {
        let dtype = try context.node.attributes.tensor("value")?.dtype ?? .float32
        let shape = context.dims(0) ?? context.type(0).staticShape?.first.map(DataMovementDims.unknowns)
        return [InferredOutput(TensorType(dtype: dtype, shape: shape))]
    }

    static func depthToSpace(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        let block = try context.node.attributes.int("blocksize", default: 1)
        guard let shape = input.shape, shape.count == 4, block > 0, block < 1 << 16 else {
            return [InferredOutput(TensorType(dtype: input.dtype, shape: DataMovementDims.unknowns(4)))]
        }
        let channels = shape[1].value.map { Dim.known($0 / (block * block)) } ?? .unknown
        let scaled = { (dim: Dim) -> Dim in dim.value == nil ? .unknown : DataMovementDims.product([dim, .known(block)]) }
        return [InferredOutput(TensorType(dtype: input.dtype, shape: [shape[0], channels, scaled(shape[2]), scaled(shape[3])]))]
    }

    static func spaceToDepth(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        let block = try context.node.attributes.int("blocksize", default: 1)
        guard let shape = input.shape, shape.count == 4, block > 0, block < 1 << 16 else {
            return [InferredOutput(TensorType(dtype: input.dtype, shape: DataMovementDims.unknowns(4)))]
        }
        let channels = shape[1].value == nil ? .unknown : DataMovementDims.product([shape[1], .known(block * block)])
        let shrunk = { (dim: Dim) -> Dim in dim.value.map { .known($0 / block) } ?? .unknown }
        return [InferredOutput(TensorType(dtype: input.dtype, shape: [shape[0], channels, shrunk(shape[2]), shrunk(shape[3])]))]
    }
}
