import KilnCore

extension ShapeRules {
    /// Shape rules of the Elementwise family.
    static let elementwise: [OpKind: ShapeRule] = {
        var table: [OpKind: ShapeRule] = [:]
        let sameAsInput: ShapeRule = { context in [InferredOutput(context.type(0))] }
        for kind in OpKind.elementwiseUnary { table[kind] = sameAsInput }
        for kind: OpKind in [.isNaN, .isInf, .not] {
            table[kind] = { context in [InferredOutput(TensorType(dtype: .bool, shape: context.type(0).shape))] }
        }
        for kind: OpKind in [.add, .sub, .mul, .div, .pow, .mod, .max, .min, .mean, .sum, .bitShift] {
            table[kind] = { context in
                let shape = try broadcast(context.inputTypes.map { $0?.shape })
                let type = TensorType(dtype: context.type(0).dtype, shape: shape)
                return [InferredOutput(type, shapeValue: shapeArithmetic(context))]
            }
        }
        for kind: OpKind in [.equal, .greater, .greaterOrEqual, .less, .lessOrEqual, .and, .or, .xor] {
            table[kind] = { context in
                [InferredOutput(TensorType(dtype: .bool, shape: try broadcast(context.inputTypes.map { $0?.shape })))]
            }
        }
        table[.where] = { context in
            let shape = try broadcast(context.inputTypes.map { $0?.shape })
            return [InferredOutput(TensorType(dtype: context.type(1).dtype ?? context.type(2).dtype, shape: shape))]
        }
        table[.pRelu] = sameAsInput
        table[.identity] = { context in
            let isShapeLike = (context.type(0).shape?.count ?? 2) <= 1
            return [InferredOutput(context.type(0), shapeValue: isShapeLike ? context.dims(0) : nil)]
        }
        table[.cast] = { context in
            // Without `to` (an imported CastLike) the target dtype is input 1's.
            let dtype =
                context.node.attributes.has("to")
                ? (try? context.node.attributes.string("to", default: "")).flatMap(DType.init(rawValue:))
                : context.type(1).dtype
            let keepsDims = dtype?.isInteger == true && (context.type(0).shape?.count ?? 2) <= 1
            return [
                InferredOutput(
                    TensorType(dtype: dtype, shape: context.type(0).shape),
                    shapeValue: keepsDims ? context.dims(0) : nil)
            ]
        }
        table[.dropout] = { context in
            let input = context.type(0)
            return [InferredOutput(input), InferredOutput(TensorType(dtype: .bool, shape: input.shape))]
        }
        table.merge(reductionRules) { _, new in new }
        table[.quantizeLinear] = { context in
            let named = try context.node.attributes.string("output_dtype", default: "")
            let dtype = context.hasInput(2) ? context.type(2).dtype : DType(rawValue: named) ?? .uint8
            return [InferredOutput(TensorType(dtype: dtype, shape: context.type(0).shape))]
        }
        table[.dequantizeLinear] = { context in
            let named = try context.node.attributes.string("output_dtype", default: "")
            let dtype = DType(rawValue: named) ?? context.type(1).dtype
            return [InferredOutput(TensorType(dtype: dtype, shape: context.type(0).shape))]
        }
        return table
    }()

    /// Numpy broadcasting of symbolic shapes (`nil` = unknown rank). Per axis: known
    /// extents other than 1 must agree and win; a symbol survives when every other extent
    /// is 1 or the same symbol; anything else is unknown.
    ///
    /// - Throws: `shapeMismatch` for two different known extents, neither 1.
    static func broadcast(_ shapes: [[Dim]?]) throws -> [Dim]? {
        var known: [[Dim]] = []
        for shape in shapes {
            guard let shape else { return nil }
            known.append(shape)
        }
        let rank = known.map(\.count).max() ?? 0
        var result: [Dim] = []
        for axis in 0..<rank {
            let dims = known.compactMap { shape -> Dim? in
                let index = axis - (rank - shape.count)
                return index >= 0 ? shape[index] : nil
            }
            let extents = Set(dims.compactMap(\.value).filter { $0 != 1 })
            if extents.count > 1 {
                throw KilnError(.shapeMismatch, "shapes \(known) do not broadcast (axis \(axis): \(extents.sorted()))")
            }
            if let extent = extents.first {
                result.append(.known(extent))
                continue
            }
            let others = Set(dims.filter { $0 != .known(1) })
            if others.isEmpty {
                result.append(.known(1))
            } else if others.count == 1, let only = others.first {
                result.append(only)
            } else {
                result.append(.unknown)
            }
        }
        return result
    }

    /// Elementwise `Add`/`Sub`/`Mul`/`Div` of 1-D integer shape values: known numbers are
    /// computed, `x + 0`, `x - 0`, `x * 1`, `x / 1` keep `x`'s dimension.
    static func shapeArithmetic(_ context: ShapeContext) -> [Dim]? {
        guard [.add, .sub, .mul, .div].contains(context.node.op), context.type(0).dtype?.isInteger == true,
            let lhs = context.dims(0), let rhs = context.dims(1),
            lhs.count == rhs.count || lhs.count == 1 || rhs.count == 1,
            (context.type(0).shape?.count ?? 1) <= 1, (context.type(1).shape?.count ?? 1) <= 1
        else { return nil }
        let count = max(lhs.count, rhs.count)
        let op = context.node.op
        return (0..<count).map { index in
            let left = lhs[lhs.count == 1 ? 0 : index]
            let right = rhs[rhs.count == 1 ? 0 : index]
            let neutral = op == .add || op == .sub ? 0 : 1
            if right == .known(neutral) { return left }
            if (op == .add || op == .mul), left == .known(neutral) { return right }
            guard let a = left.value, let b = right.value else { return .unknown }
            switch op {
            case .add: return .known(a + b)
            case .sub: return .known(a - b)
            case .mul: return .known(a * b)
            default: return b == 0 ? .unknown : .known(a / b)
            }
        }
    }

    /// Reductions, `ArgMax`/`ArgMin` and `CumSum`.
    private static let reductionRules: [OpKind: ShapeRule] = {
        var table: [OpKind: ShapeRule] = [:]
        let reduce: ShapeRule = { context in
            let input = context.type(0)
            let keepDims = try context.node.attributes.int("keepdims", default: 1) != 0
            let noop = try context.node.attributes.int("noop_with_empty_axes", default: 0) != 0
            guard let shape = input.shape else { return [InferredOutput(TensorType(dtype: input.dtype, shape: nil))] }
            var axes: [Int] = []
            if context.hasInput(1) {
                guard let values = context.ints(1) else {
                    // Axes only known at run time.
                    let dims = keepDims ? [Dim](repeating: .unknown, count: shape.count) : nil
                    return [InferredOutput(TensorType(dtype: input.dtype, shape: dims))]
                }
                axes = try values.map { try normalized($0, rank: shape.count) }
            }
            if axes.isEmpty {
                if noop { return [InferredOutput(input)] }
                axes = Array(shape.indices)
            }
            let reduced = Set(axes)
            let dims = shape.enumerated().compactMap { axis, dim -> Dim? in
                reduced.contains(axis) ? (keepDims ? .known(1) : nil) : dim
            }
            return [InferredOutput(TensorType(dtype: input.dtype, shape: dims))]
        }
        for kind: OpKind in [
            .reduceSum, .reduceMean, .reduceMax, .reduceMin, .reduceProd, .reduceL1, .reduceL2,
            .reduceLogSum, .reduceLogSumExp, .reduceSumSquare,
        ] {
            table[kind] = reduce
        }
        let argExtreme: ShapeRule = { context in
            guard var shape = context.type(0).shape else { return [InferredOutput(TensorType(dtype: .int64, shape: nil))] }
            let axis = try normalized(try context.node.attributes.int("axis", default: 0), rank: shape.count)
            if try context.node.attributes.int("keepdims", default: 1) != 0 {
                shape[axis] = .known(1)
            } else {
                shape.remove(at: axis)
            }
            return [InferredOutput(TensorType(dtype: .int64, shape: shape))]
        }
        table[.argMax] = argExtreme
        table[.argMin] = argExtreme
        table[.cumSum] = { context in [InferredOutput(context.type(0))] }
        return table
    }()

    /// `axis` in `-rank..<rank` made non-negative.
    ///
    /// - Throws: `shapeMismatch` when out of range.
    private static func normalized(_ axis: Int, rank: Int) throws -> Int {
        guard axis >= -rank, axis < rank else {
            throw KilnError(.shapeMismatch, "axis \(axis) is out of range for rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }
}
