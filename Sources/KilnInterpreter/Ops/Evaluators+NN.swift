import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// Evaluators of the NN family (matrix products here; convolution and pooling in
    /// `Evaluators+Conv.swift`, normalization and softmax in
    /// `Evaluators+Normalization.swift`, LSTM/GRU in `Evaluators+Recurrent.swift`).
    static let nn: [OpKind: Evaluator] = {
        var table: [OpKind: Evaluator] = [
            .matMul: evaluateMatMul,
            .gemm: evaluateGemm,
            .einsum: evaluateEinsum,
        ]
        for family in [convolution, normalization, recurrent] {
            table.merge(family) { _, new in new }
        }
        return table
    }()

    @Sendable static func evaluateMatMul(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let a = try context.required(inputs, 0, node)
        let b = try context.required(inputs, 1, node)
        let plan = try MatMulPlan(a.shape, b.shape)
        var output = context.makeOutput(0, zeros: plan.outputShape, dtype: a.dtype)
        try MatrixProducts.matMul(a: a, b: b, output: &output, threads: context.threads, plan: plan)
        return [output]
    }

    @Sendable static func evaluateGemm(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let a = try context.required(inputs, 0, node)
        let b = try context.required(inputs, 1, node)
        let c = inputs.count > 2 ? inputs[2] : nil
        let attributes = node.attributes
        let parameters = MatrixProducts.GemmParameters(
            alpha: try attributes.float("alpha", default: 1), beta: try attributes.float("beta", default: 1),
            transA: try attributes.int("transA", default: 0) != 0, transB: try attributes.int("transB", default: 0) != 0)
        let shape = try MatrixProducts.gemmShape(a.shape, b.shape, c: c?.shape, parameters)
        var output = context.makeOutput(0, zeros: shape, dtype: a.dtype)
        try MatrixProducts.gemm(a: a, b: b, c: c, parameters, output: &output, threads: context.threads)
        return [output]
    }

    @Sendable static func evaluateEinsum(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let operands = try inputs.indices.map { try context.required(inputs, $0, node) }
        let equation = try EinsumEquation.parse(try node.attributes.string("equation", default: ""))
        let (labels, outputLabels) = try equation.resolve(ranks: operands.map(\.rank))
        guard let dtype = operands.first?.dtype else {
            throw KilnError(.invalidModel, "Einsum needs at least one input")
        }
        let shape = try Einsum.outputShape(shapes: operands.map(\.shape), labels: labels, output: outputLabels)
        var output = context.makeOutput(0, zeros: shape, dtype: dtype)
        try Einsum.run(operands: operands, labels: labels, outputLabels: outputLabels, output: &output, threads: context.threads)
        return [output]
    }
}
