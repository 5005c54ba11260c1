import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// Evaluators of the Elementwise family: unary math and activations, broadcasting
    /// binary and variadic ops, comparisons and logic, `Where`, `Cast`, `Identity`,
    /// `Dropout`, reductions (``reductions``) and quantization (``quantization``).
    static let elementwise: [OpKind: Evaluator] = {
        var table: [OpKind: Evaluator] = [:]
        for (kind, makeOp) in unaryOps { table[kind] = unary(makeOp) }
        for (kind, op) in arithmeticOps { table[kind] = arithmetic(op) }
        for (kind, op) in compareOps { table[kind] = compare(op) }
        for (kind, op) in logicOps { table[kind] = logic(op) }
        table[.mod] = { node, inputs, context in
            let op = BinaryOp.mod(fmod: try node.attributes.int("fmod", default: 0) != 0)
            return try arithmetic(op)(node, inputs, context)
        }
        table[.bitShift] = { node, inputs, context in
            let direction = try node.attributes.string("direction", default: "")
            let op: BinaryOp
            switch direction {
            case "LEFT": op = .shiftLeft
            case "RIGHT": op = .shiftRight
            default: throw KilnError(.invalidModel, "BitShift direction must be LEFT or RIGHT, got '\(direction)'")
            }
            return try arithmetic(op)(node, inputs, context)
        }
        table[.pow] = { node, inputs, context in
            let base = try context.required(inputs, 0, node)
            let exponent = try context.required(inputs, 1, node)
            var output = context.makeOutput(0, zeros: try Broadcast.checkedShape([base.shape, exponent.shape]), dtype: base.dtype)
            try BinaryKernels.pow(base, exponent, into: &output, threads: context.threads)
            return [output]
        }
        table[.pRelu] = { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            let slope = try context.required(inputs, 1, node)
            try requireSameDType(x, slope)
            guard Broadcast.shape([x.shape, slope.shape]) == x.shape else {
                throw KilnError(.shapeMismatch, "slope of shape \(slope.shape) does not broadcast to \(x.shape)")
            }
            var output = context.makeOutput(0, zeros: x.shape, dtype: x.dtype)
            try BinaryKernels.arithmetic(.pRelu, x, slope, into: &output, threads: context.threads)
            return [output]
        }
        table[.max] = variadic(.max)
        table[.min] = variadic(.min)
        table[.sum] = variadic(.add)
        table[.mean] = { node, inputs, context in
            let sum = try variadic(.add)(node, inputs, context.allocatingFresh)[0]
            guard let sum, inputs.count > 1 else { return [sum] }
            let count = try CastKernels.casted(Tensor(scalar: Double(inputs.count)), to: sum.dtype)
            var output = context.makeOutput(0, zeros: sum.shape, dtype: sum.dtype)
            try BinaryKernels.arithmetic(.div, sum, count, into: &output, threads: context.threads)
            return [output]
        }
        table[.not] = { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            guard x.dtype == .bool else { throw KilnError(.kernelMissing, "Not: no \(x.dtype) kernel") }
            var output = context.makeOutput(0, zeros: x.shape, dtype: .bool)
            UnaryKernels.logicalNot(x, into: &output)
            return [output]
        }
        table[.isNaN] = { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            var output = context.makeOutput(0, zeros: x.shape, dtype: .bool)
            try UnaryKernels.classify(x, infinity: nil, into: &output)
            return [output]
        }
        table[.isInf] = { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            let negative = try node.attributes.int("detect_negative", default: 1) != 0
            let positive = try node.attributes.int("detect_positive", default: 1) != 0
            var output = context.makeOutput(0, zeros: x.shape, dtype: .bool)
            try UnaryKernels.classify(x, infinity: (negative, positive), into: &output)
            return [output]
        }
        table[.where] = { node, inputs, context in
            let condition = try context.required(inputs, 0, node)
            let x = try context.required(inputs, 1, node)
            let y = try context.required(inputs, 2, node)
            guard condition.dtype == .bool else {
                throw KilnError(.shapeMismatch, "Where condition must be bool, got \(condition.dtype)")
            }
            try requireSameDType(x, y)
            let shape = try Broadcast.checkedShape([condition.shape, x.shape, y.shape])
            var output = context.makeOutput(0, zeros: shape, dtype: x.dtype)
            SelectKernels.select(condition, x, y, into: &output, threads: context.threads)
            return [output]
        }
        table[.cast] = { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            // Imported CastLike: no `to`, the target dtype is input 1's.
            if !node.attributes.has("to"), inputs.count > 1, let like = inputs[1] {
                return [try CastKernels.casted(x, to: like.dtype, threads: context.threads)]
            }
            let name = try node.attributes.string("to", default: "")
            guard let dtype = DType(rawValue: name) else {
                throw KilnError(.invalidModel, "Cast 'to' must name a dtype, got '\(name)'")
            }
            return [try CastKernels.casted(x, to: dtype, threads: context.threads)]
        }
        table[.identity] = { node, inputs, context in
            [try context.required(inputs, 0, node)]
        }
        table[.dropout] = { node, inputs, context in
            // Inference: the ratio is ignored. Training mode is random unless the ratio is 0.
            let x = try context.required(inputs, 0, node)
            if inputs.count > 2, let trainingMode = inputs[2],
                try CastKernels.casted(trainingMode, to: .bool).scalars(as: Bool.self).contains(true)
            {
                let ratio = inputs.count > 1 ? inputs[1] : nil
                let isZero = try ratio.map { try CastKernels.casted($0, to: .float64).scalars(as: Double.self) == [0] }
                guard isZero == true else {
                    throw KilnError(.unsupportedAttribute, "Dropout in training mode (random) is not supported")
                }
            }
            let wantsMask = node.outputs.count > 1 && node.outputs[1] != nil
            let mask = wantsMask ? Tensor(shape: x.shape, scalars: [Bool](repeating: true, count: x.count)) : nil
            return [x, mask]
        }
        table.merge(reductions) { _, new in new }
        table.merge(quantization) { _, new in new }
        return table
    }()

    // MARK: Unary

    /// Unary ops and how to read their parameters from the node.
    private static let unaryOps: [OpKind: @Sendable (Node, [Tensor?]) throws -> UnaryOp] = [
        .abs: { _, _ in .abs }, .neg: { _, _ in .neg }, .ceil: { _, _ in .ceil }, .floor: { _, _ in .floor },
        .round: { _, _ in .round }, .sign: { _, _ in .sign }, .sqrt: { _, _ in .sqrt },
        .reciprocal: { _, _ in .reciprocal }, .exp: { _, _ in .exp }, .log: { _, _ in .log }, .erf: { _, _ in .erf },
        .sin: { _, _ in .sin }, .cos: { _, _ in .cos }, .tan: { _, _ in .tan }, .asin: { _, _ in .asin },
        .acos: { _, _ in .acos }, .atan: { _, _ in .atan }, .sinh: { _, _ in .sinh }, .cosh: { _, _ in .cosh },
        .asinh: { _, _ in .asinh }, .acosh: { _, _ in .acosh }, .atanh: { _, _ in .atanh },
        .relu: { _, _ in .relu }, .sigmoid: { _, _ in .sigmoid }, .tanh: { _, _ in .tanh },
        .hardSwish: { _, _ in .hardSwish }, .softplus: { _, _ in .softplus }, .softsign: { _, _ in .softsign },
        .mish: { _, _ in .mish },
        .leakyRelu: { node, _ in .leakyRelu(alpha: try node.attributes.float("alpha", default: 0.01)) },
        .elu: { node, _ in .elu(alpha: try node.attributes.float("alpha", default: 1)) },
        .selu: { node, _ in
            .selu(
                alpha: try node.attributes.float("alpha", default: 1.673_263_192_176_818_8),
                gamma: try node.attributes.float("gamma", default: 1.050_701_022_148_132_3))
        },
        .celu: { node, _ in .celu(alpha: try node.attributes.float("alpha", default: 1)) },
        .hardSigmoid: { node, _ in
            .hardSigmoid(
                alpha: try node.attributes.float("alpha", default: 0.2),
                beta: try node.attributes.float("beta", default: 0.5))
        },
        .thresholdedRelu: { node, _ in .thresholdedRelu(alpha: try node.attributes.float("alpha", default: 1)) },
        .gelu: { node, _ in
            let approximate = try node.attributes.string("approximate", default: "none")
            guard approximate == "none" || approximate == "tanh" else {
                throw KilnError(.invalidModel, "Gelu approximate must be none or tanh, got '\(approximate)'")
            }
            return .gelu(tanh: approximate == "tanh")
        },
        .clip: { _, inputs in .clip(min: try scalarBound(inputs, 1), max: try scalarBound(inputs, 2)) },
    ]

    /// The op of a unary `node` whose parameters are all attributes (every op of the unary
    /// family but `Clip`, whose bounds are inputs); `nil` for other nodes.
    ///
    /// - Throws: what decoding the node's attributes throws.
    package static func unaryOp(of node: Node) throws -> UnaryOp? {
        guard node.op != .clip, let makeOp = unaryOps[node.op] else { return nil }
        return try makeOp(node, [])
    }

    /// The op of an `Add`, `Sub`, `Mul` or `Div` node; `nil` for other nodes.
    package static func arithmeticOp(of node: Node) -> BinaryOp? {
        arithmeticOps[node.op]
    }

    /// A Clip bound: the single element of an optional input, as `Double`.
    private static func scalarBound(_ inputs: [Tensor?], _ index: Int) throws -> Double? {
        guard index < inputs.count, let tensor = inputs[index] else { return nil }
        guard tensor.count == 1 else {
            throw KilnError(.shapeMismatch, "Clip bound must have one element, got shape \(tensor.shape)")
        }
        return try CastKernels.casted(tensor, to: .float64).scalars(as: Double.self)[0]
    }

    private static func unary(_ makeOp: @escaping @Sendable (Node, [Tensor?]) throws -> UnaryOp) -> Evaluator {
        { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            var output = context.makeOutput(0, overwriting: x.shape, dtype: x.dtype)
            try UnaryKernels.apply(try makeOp(node, inputs), x, into: &output, threads: context.threads)
            return [output]
        }
    }

    // MARK: Binary

    private static let arithmeticOps: [OpKind: BinaryOp] = [.add: .add, .sub: .sub, .mul: .mul, .div: .div]
    private static let compareOps: [OpKind: CompareOp] = [
        .equal: .equal, .greater: .greater, .greaterOrEqual: .greaterOrEqual, .less: .less,
        .lessOrEqual: .lessOrEqual,
    ]
    private static let logicOps: [OpKind: LogicOp] = [.and: .and, .or: .or, .xor: .xor]

    /// `shapeMismatch` unless the operands share a dtype.
    private static func requireSameDType(_ a: Tensor, _ b: Tensor) throws {
        guard a.dtype == b.dtype else {
            throw KilnError(.shapeMismatch, "operand dtypes differ: \(a.dtype) and \(b.dtype)")
        }
    }

    private static func arithmetic(_ op: BinaryOp) -> Evaluator {
        { node, inputs, context in
            let a = try context.required(inputs, 0, node)
            let b = try context.required(inputs, 1, node)
            return [try apply(op, a, b, context)]
        }
    }

    private static func apply(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ context: EvalContext) throws -> Tensor {
        try requireSameDType(a, b)
        var output = context.makeOutput(0, overwriting: try Broadcast.checkedShape([a.shape, b.shape]), dtype: a.dtype)
        try BinaryKernels.arithmetic(op, a, b, into: &output, threads: context.threads)
        return output
    }

    /// Max, Min, Sum: folds the inputs left to right, broadcasting as it goes.
    private static func variadic(_ op: BinaryOp) -> Evaluator {
        { node, inputs, context in
            let operands = inputs.compactMap { $0 }
            guard var result = operands.first else {
                throw KilnError(.invalidModel, "needs at least one input")
            }
            // Intermediate folds are fresh tensors; the last one is the node's output.
            for (position, operand) in operands.enumerated().dropFirst() {
                let isLast = position == operands.count - 1
                result = try apply(op, result, operand, isLast ? context : context.allocatingFresh)
            }
            return [result]
        }
    }

    private static func compare(_ op: CompareOp) -> Evaluator {
        { node, inputs, context in
            let a = try context.required(inputs, 0, node)
            let b = try context.required(inputs, 1, node)
            try requireSameDType(a, b)
            var output = context.makeOutput(0, zeros: try Broadcast.checkedShape([a.shape, b.shape]), dtype: .bool)
            try BinaryKernels.compare(op, a, b, into: &output, threads: context.threads)
            return [output]
        }
    }

    private static func logic(_ op: LogicOp) -> Evaluator {
        { node, inputs, context in
            let a = try context.required(inputs, 0, node)
            let b = try context.required(inputs, 1, node)
            guard a.dtype == .bool, b.dtype == .bool else {
                throw KilnError(.kernelMissing, "\(node.op): no \(a.dtype) kernel")
            }
            var output = context.makeOutput(0, zeros: try Broadcast.checkedShape([a.shape, b.shape]), dtype: .bool)
            BinaryKernels.logic(op, a, b, into: &output, threads: context.threads)
            return [output]
        }
    }
}
