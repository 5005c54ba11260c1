import KilnCore

extension ShapeRules {
    /// Shape rules of the NN family: matrix products, convolution, pooling, normalization,
    /// softmax and the recurrent cells. Spatial extents are computed when the input
    /// extent is known and become unknown otherwise; batch and channel dimensions pass
    /// through symbolically.
    static let nn: [OpKind: ShapeRule] = [
        .gemm: gemmRule,
        .matMul: matMulRule,
        .einsum: einsumRule,
        .conv: { context in [InferredOutput(try windowType(context, transposed: false))] },
        .fusedConv: { context in [InferredOutput(try windowType(context, transposed: false))] },
        .convTranspose: { context in [InferredOutput(try windowType(context, transposed: true))] },
        .maxPool: { context in
            let type = try windowType(context, transposed: false)
            return [InferredOutput(type), InferredOutput(TensorType(dtype: .int64, shape: type.shape))]
        },
        .averagePool: { context in [InferredOutput(try windowType(context, transposed: false))] },
        .globalAveragePool: globalPoolRule,
        .globalMaxPool: globalPoolRule,
        .batchNormalization: sameAsInput,
        .instanceNormalization: sameAsInput,
        .layerNormalization: layerNormalizationRule,
        .softmax: sameAsInput,
        .logSoftmax: sameAsInput,
        .hardmax: sameAsInput,
        .lstm: { context in try recurrentRule(context, hasCellState: true) },
        .gru: { context in try recurrentRule(context, hasCellState: false) },
    ]

    @Sendable static func sameAsInput(_ context: ShapeContext) throws -> [InferredOutput] {
        [InferredOutput(context.type(0))]
    }

    /// NumPy broadcasting of two dimension lists: a symbol survives when both sides
    /// agree or the other side is 1.
    static func broadcastDims(_ a: [Dim], _ b: [Dim]) throws -> [Dim] {
        let rank = max(a.count, b.count)
        let left = Array(repeating: Dim.known(1), count: rank - a.count) + a
        let right = Array(repeating: Dim.known(1), count: rank - b.count) + b
        return try zip(left, right).map { x, y in
            switch (x, y) {
            case _ where x == y: return x
            case (.known(1), _): return y
            case (_, .known(1)): return x
            case (.known(let m), .known(let n)):
                throw KilnError(.shapeMismatch, "dimensions \(m) and \(n) do not broadcast")
            case (.known, _): return x
            case (_, .known): return y
            default: return .unknown
            }
        }
    }

    @Sendable static func gemmRule(_ context: ShapeContext) throws -> [InferredOutput] {
        let a = context.type(0)
        let b = context.type(1)
        let attributes = context.node.attributes
        guard let aShape = a.shape, let bShape = b.shape else { return [InferredOutput(TensorType(dtype: a.dtype, shape: nil))] }
        guard aShape.count == 2, bShape.count == 2 else {
            throw KilnError(.shapeMismatch, "Gemm needs 2-D A and B, got \(a) and \(b)")
        }
        let m = try attributes.int("transA", default: 0) != 0 ? aShape[1] : aShape[0]
        let n = try attributes.int("transB", default: 0) != 0 ? bShape[0] : bShape[1]
        return [InferredOutput(TensorType(dtype: a.dtype, shape: [m, n]))]
    }

    @Sendable static func matMulRule(_ context: ShapeContext) throws -> [InferredOutput] {
        let a = context.type(0)
        guard let aShape = a.shape, let bShape = context.type(1).shape else {
            return [InferredOutput(TensorType(dtype: a.dtype, shape: nil))]
        }
        guard !aShape.isEmpty, !bShape.isEmpty else {
            throw KilnError(.shapeMismatch, "MatMul operands must have rank >= 1")
        }
        let left = aShape.count == 1 ? [.known(1)] + aShape : aShape
        let right = bShape.count == 1 ? bShape + [.known(1)] : bShape
        if case .known(let k) = left[left.count - 1], case .known(let kb) = right[right.count - 2], k != kb {
            throw KilnError(.shapeMismatch, "MatMul inner dimensions differ: \(k) and \(kb)")
        }
        var shape = try broadcastDims(Array(left.dropLast(2)), Array(right.dropLast(2)))
        if aShape.count > 1 { shape.append(left[left.count - 2]) }
        if bShape.count > 1 { shape.append(right[right.count - 1]) }
        return [InferredOutput(TensorType(dtype: a.dtype, shape: shape))]
    }

    @Sendable static func einsumRule(_ context: ShapeContext) throws -> [InferredOutput] {
        let dtype = context.type(0).dtype
        let shapes = context.node.inputs.indices.map { context.type($0).shape }
        let known = shapes.compactMap { $0 }
        guard known.count == shapes.count else { return [InferredOutput(TensorType(dtype: dtype, shape: nil))] }
        let equation = try EinsumEquation.parse(try context.node.attributes.string("equation", default: ""))
        let (labels, output) = try equation.resolve(ranks: known.map(\.count))
        var extents: [Int: Dim] = [:]
        for (shape, operandLabels) in zip(known, labels) {
            for (dim, label) in zip(shape, operandLabels) {
                extents[label] = try extents[label].map { try broadcastDims([$0], [dim])[0] } ?? dim
            }
        }
        return [InferredOutput(TensorType(dtype: dtype, shape: output.map { extents[$0] ?? .unknown }))]
    }

    /// Conv, ConvTranspose, MaxPool and AveragePool: `[N, channels, spatial…]`.
    static func windowType(_ context: ShapeContext, transposed: Bool) throws -> TensorType {
        let input = context.type(0)
        let node = context.node
        let isConv = node.op == .conv || node.op == .fusedConv || node.op == .convTranspose
        guard let shape = input.shape else { return TensorType(dtype: input.dtype, shape: nil) }
        guard shape.count >= 3 else {
            throw KilnError(.shapeMismatch, "\(node.op) input \(input) needs rank >= 3 (N, C, spatial…)")
        }
        let rank = shape.count - 2
        let weight = isConv ? context.type(1).shape : nil
        let attributes = node.attributes
        let group = try attributes.int("group", default: 1)
        var channels = shape[1]
        if isConv {
            if let weight, weight.count == shape.count {
                channels = transposed ? (weight[1].value.map { .known($0 * group) } ?? .unknown) : weight[0]
            } else {
                channels = .unknown
            }
        }
        let kernel = try attributes.ints("kernel_shape")
            ?? weight.flatMap { weight in weight.count == shape.count ? weight.dropFirst(2).map(\.value) : nil }?.compactMap { $0 }
        let autoPad = try attributes.string("auto_pad", default: "NOTSET")
        let strides = try attributes.ints("strides") ?? Array(repeating: 1, count: rank)
        let dilations = try attributes.ints("dilations") ?? Array(repeating: 1, count: rank)
        let pads = try attributes.ints("pads") ?? Array(repeating: 0, count: 2 * rank)
        let ceilMode = try attributes.int("ceil_mode", default: 0) != 0
        let outputPadding = try attributes.ints("output_padding") ?? Array(repeating: 0, count: rank)
        var outputShape = try attributes.ints("output_shape")
        if let requested = outputShape, requested.count == rank + 2 { outputShape = Array(requested.dropFirst(2)) }
        let valid = strides.count == rank && dilations.count == rank && pads.count == 2 * rank
            && outputPadding.count == rank && kernel?.count == rank && (outputShape?.count ?? rank) == rank
            && strides.allSatisfy { $0 > 0 }
        let spatial = (0..<rank).map { axis -> Dim in
            guard valid, let kernel else { return .unknown }
            if transposed, let outputShape { return .known(outputShape[axis]) }
            guard let extent = shape[axis + 2].value else { return .unknown }
            let window = (kernel[axis] - 1) * dilations[axis] + 1
            let same = autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER"
            let padding = autoPad == "NOTSET" ? pads[axis] + pads[axis + rank] : 0
            if transposed {
                return .known(same ? extent * strides[axis] : strides[axis] * (extent - 1) + outputPadding[axis] + window - padding)
            }
            if same { return .known((extent + strides[axis] - 1) / strides[axis]) }
            let span = extent + padding - window
            guard span >= 0 else { return .unknown }
            var output = span / strides[axis] + 1
            if ceilMode && span % strides[axis] != 0 {
                output += 1
                if (output - 1) * strides[axis] >= extent + (autoPad == "NOTSET" ? pads[axis] : 0) { output -= 1 }
            }
            return .known(output)
        }
        return TensorType(dtype: input.dtype, shape: [shape[0], channels] + spatial)
    }

    @Sendable static func globalPoolRule(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        guard let shape = input.shape else { return [InferredOutput(input)] }
        guard shape.count >= 3 else {
            throw KilnError(.shapeMismatch, "\(context.node.op) input \(input) needs rank >= 3 (N, C, spatial…)")
        }
        return [InferredOutput(TensorType(dtype: input.dtype, shape: Array(shape.prefix(2)) + shape.dropFirst(2).map { _ in .known(1) }))]
    }

    @Sendable static func layerNormalizationRule(_ context: ShapeContext) throws -> [InferredOutput] {
        let input = context.type(0)
        let stashType = try context.node.attributes.int("stash_type", default: 1)
        let statisticsType: DType? = stashType == 1 ? .float32 : stashType == 11 ? .float64 : input.dtype
        guard let shape = input.shape else {
            return [InferredOutput(input), InferredOutput(TensorType(dtype: statisticsType, shape: nil)),
                InferredOutput(TensorType(dtype: statisticsType, shape: nil))]
        }
        let axis = try context.node.attributes.int("axis", default: -1)
        let resolved = axis < 0 ? axis + shape.count : axis
        guard resolved >= 0, resolved < max(shape.count, 1) else {
            throw KilnError(.shapeMismatch, "LayerNormalization axis \(axis) is out of range for \(input)")
        }
        let statistics = TensorType(
            dtype: statisticsType, shape: Array(shape.prefix(resolved)) + Array(repeating: .known(1), count: shape.count - resolved))
        return [InferredOutput(input), InferredOutput(statistics), InferredOutput(statistics)]
    }

    /// LSTM/GRU: `Y [S, D, B, H]`, `Y_h` (and LSTM's `Y_c`) `[D, B, H]`; batch-major with
    /// `layout = 1`.
    static func recurrentRule(_ context: ShapeContext, hasCellState: Bool) throws -> [InferredOutput] {
        let input = context.type(0)
        let attributes = context.node.attributes
        let directions = try attributes.string("direction", default: "forward") == "bidirectional" ? 2 : 1
        let batchMajor = try attributes.int("layout", default: 0) == 1
        let hidden: Dim = try attributes.int("hidden_size").map(Dim.known)
            ?? (context.type(2).shape.flatMap { $0.count == 3 ? $0[2] : nil } ?? .unknown)
        let count = hasCellState ? 3 : 2
        guard let shape = input.shape, shape.count == 3 else {
            return Array(repeating: InferredOutput(TensorType(dtype: input.dtype, shape: nil)), count: count)
        }
        let (steps, batch) = batchMajor ? (shape[1], shape[0]) : (shape[0], shape[1])
        let d = Dim.known(directions)
        let y = batchMajor ? [batch, steps, d, hidden] : [steps, d, batch, hidden]
        let state = batchMajor ? [batch, d, hidden] : [d, batch, hidden]
        return [InferredOutput(TensorType(dtype: input.dtype, shape: y))]
            + Array(repeating: InferredOutput(TensorType(dtype: input.dtype, shape: state)), count: count - 1)
    }
}
