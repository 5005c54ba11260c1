import KilnCore

extension ShapeRules {
    /// DataMovement shape rules for indexing and resampling ops; merged into
    /// ``dataMovement``.
    static let dataMovementIndexing: [OpKind: ShapeRule] = [
        .gather: IndexingRules.gather,
        .gatherElements: IndexingRules.gatherElements,
        .gatherND: IndexingRules.gatherND,
        .scatterND: IndexingRules.sameAsData,
        .scatterElements: IndexingRules.sameAsData,
        .trilu: IndexingRules.sameAsData,
        .topK: IndexingRules.topK,
        .oneHot: IndexingRules.oneHot,
        .nonZero: IndexingRules.nonZero,
        .range: IndexingRules.range,
        .pad: IndexingRules.pad,
        .resize: IndexingRules.resize,
    ]
}

private enum IndexingRules {
    /// `floor(value)` as a known dim, or unknown when it is not a sane extent.
    static func wholeDim(_ value: Double) -> Dim {
        value.isFinite && value >= 0 && value < 1e15 ? .known(Int(value.rounded(.down))) : .unknown
    }

    static func sameAsData(_ context: ShapeContext) throws -> [InferredOutput] {
        [InferredOutput(context.type(0))]
    }

    static func gather(_ context: ShapeContext) throws -> [InferredOutput] {
        let data = context.type(0)
        let indices = context.type(1)
        guard let shape = data.shape, let indexShape = indices.shape else {
            return [InferredOutput(TensorType(dtype: data.dtype, shape: nil))]
        }
        guard let axis = DataMovementDims.axis(try context.node.attributes.int("axis", default: 0), rank: shape.count) else {
            throw KilnError(.shapeMismatch, "Gather axis is out of range for rank \(shape.count)")
        }
        let result = Array(shape.prefix(axis)) + indexShape + Array(shape.dropFirst(axis + 1))
        // Gathering from a shape value with constant indices picks its dimensions.
        var shapeValue: [Dim]?
        if shape.count == 1, indexShape.count <= 1, let values = context.dims(0), let picks = context.ints(1) {
            let resolved = picks.map { $0 < 0 ? $0 + values.count : $0 }
            if resolved.allSatisfy({ $0 >= 0 && $0 < values.count }) { shapeValue = resolved.map { values[$0] } }
        }
        return [InferredOutput(TensorType(dtype: data.dtype, shape: result), shapeValue: shapeValue)]
    }

    static func gatherElements(_ context: ShapeContext) throws -> [InferredOutput] {
        [InferredOutput(TensorType(dtype: context.type(0).dtype, shape: context.type(1).shape))]
    }

    static func gatherND(_ context: ShapeContext) throws -> [InferredOutput] {
        let data = context.type(0)
        let batchDims = try context.node.attributes.int("batch_dims", default: 0)
        guard let shape = data.shape, let indexShape = context.type(1).shape, let depth = indexShape.last?.value,
            batchDims + depth <= shape.count
        else {
            return [InferredOutput(TensorType(dtype: data.dtype, shape: nil))]
        }
        let result = Array(indexShape.dropLast()) + Array(shape.dropFirst(batchDims + depth))
        return [InferredOutput(TensorType(dtype: data.dtype, shape: result))]
    }

    static func topK(_ context: ShapeContext) throws -> [InferredOutput] {
        let data = context.type(0)
        var result: [Dim]?
        if let shape = data.shape,
            let axis = DataMovementDims.axis(try context.node.attributes.int("axis", default: -1), rank: shape.count)
        {
            var dims = shape
            dims[axis] = context.ints(1)?.first.map(Dim.known) ?? .unknown
            result = dims
        }
        return [
            InferredOutput(TensorType(dtype: data.dtype, shape: result)),
            InferredOutput(TensorType(dtype: .int64, shape: result)),
        ]
    }

    static func oneHot(_ context: ShapeContext) throws -> [InferredOutput] {
        let dtype = context.type(2).dtype
        guard let shape = context.type(0).shape,
            let axis = DataMovementDims.axis(try context.node.attributes.int("axis", default: -1), rank: shape.count + 1)
        else {
            return [InferredOutput(TensorType(dtype: dtype, shape: nil))]
        }
        var depth = Dim.unknown
        if let constant = context.constant(1), constant.count == 1 {
            let value = constant.doubleScalars()[0]
            if value >= 1, value < 1e9 { depth = .known(Int(value)) }
        }
        var result = shape
        result.insert(depth, at: axis)
        return [InferredOutput(TensorType(dtype: dtype, shape: result))]
    }

    static func nonZero(_ context: ShapeContext) throws -> [InferredOutput] {
        let rank = context.type(0).shape.map { Dim.known($0.count) } ?? .unknown
        return [InferredOutput(TensorType(dtype: .int64, shape: [rank, .unknown]))]
    }

    static func range(_ context: ShapeContext) throws -> [InferredOutput] {
        let dtype = context.type(0).dtype
        var length = Dim.unknown
        let values = (0..<3).map { index -> Double? in
            guard let constant = context.constant(index), constant.count == 1 else { return nil }
            return constant.doubleScalars().first
        }
        if let start = values[0], let limit = values[1], let delta = values[2], delta != 0 {
            let count = ((limit - start) / delta).rounded(.up)
            if count.isFinite, count < 1e12 { length = .known(Swift.max(0, Int(count))) }
        } else if let start = context.dims(0)?.first, let limit = context.dims(1)?.first,
            context.dims(2)?.first == .known(1), start == .known(0)
        {
            // Range(0, n, 1) has n elements, also when n is a symbol.
            length = limit
        }
        return [InferredOutput(TensorType(dtype: dtype, shape: [length]))]
    }

    static func pad(_ context: ShapeContext) throws -> [InferredOutput] {
        let data = context.type(0)
        guard let shape = data.shape else { return [InferredOutput(TensorType(dtype: data.dtype, shape: nil))] }
        let rank = shape.count
        guard let pads = context.ints(1) else {
            return [InferredOutput(TensorType(dtype: data.dtype, shape: DataMovementDims.unknowns(rank)))]
        }
        let axes = context.hasInput(3) ? context.ints(3)?.compactMap { DataMovementDims.axis($0, rank: rank) } : Array(0..<rank)
        guard let axes, pads.count == 2 * axes.count else {
            return [InferredOutput(TensorType(dtype: data.dtype, shape: DataMovementDims.unknowns(rank)))]
        }
        var result = shape
        for (position, axis) in axes.enumerated() {
            let added = pads[position] &+ pads[position + axes.count]
            if added == 0 { continue }
            result[axis] = shape[axis].value.map { .known($0 &+ added) } ?? .unknown
        }
        return [InferredOutput(TensorType(dtype: data.dtype, shape: result))]
    }

    static func resize(_ context: ShapeContext) throws -> [InferredOutput] {
        let data = context.type(0)
        guard let shape = data.shape else { return [InferredOutput(TensorType(dtype: data.dtype, shape: nil))] }
        let rank = shape.count
        let axes = (try context.node.attributes.ints("axes") ?? Array(0..<rank)).compactMap {
            DataMovementDims.axis($0, rank: rank)
        }
        var result = shape
        let policy = try context.node.attributes.string("keep_aspect_ratio_policy", default: "stretch")
        if context.hasInput(3), let sizes = context.ints(3), !sizes.isEmpty {
            guard sizes.count == axes.count else { return [InferredOutput(TensorType(dtype: data.dtype, shape: DataMovementDims.unknowns(rank)))] }
            if policy == "stretch" {
                for (axis, size) in zip(axes, sizes) { result[axis] = .known(size) }
            } else {
                let inputs = axes.compactMap { shape[$0].value }
                guard inputs.count == axes.count, inputs.allSatisfy({ $0 > 0 }) else {
                    for axis in axes { result[axis] = .unknown }
                    return [InferredOutput(TensorType(dtype: data.dtype, shape: result))]
                }
                let ratios = zip(inputs, sizes).map { Double($1) / Double($0) }
                let common = (policy == "not_larger" ? ratios.min() : ratios.max()) ?? 1
                for (axis, input) in zip(axes, inputs) { result[axis] = wholeDim(common * Double(input) + 0.5) }
            }
        } else if context.hasInput(2), let scalesTensor = context.constant(2), scalesTensor.dtype == .float32,
            scalesTensor.count == axes.count
        {
            for (axis, scale) in zip(axes, scalesTensor.scalars(as: Float.self)) {
                if scale == 1 { continue }
                result[axis] = shape[axis].value.map { wholeDim(Double($0) * Double(scale)) } ?? .unknown
            }
        } else {
            for axis in axes { result[axis] = .unknown }
        }
        return [InferredOutput(TensorType(dtype: data.dtype, shape: result))]
    }
}
