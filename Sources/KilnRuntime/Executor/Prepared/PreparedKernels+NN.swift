import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels

extension PreparedKernels {
    /// Prepared float32 `MatMul` (a ``MatMulPlan``), `Gemm` (a ``GemmPlan``), `Softmax`, `LogSoftmax`, `Hardmax` and
    /// `LayerNormalization` (output 0 only, scale and bias of the normalized shape).
    static func nn(_ request: Request) throws -> PreparedKernel.Body? {
        guard request.isFloat32 else { return nil }
        switch request.node.op {
        case .matMul: return try matMul(request)
        case .gemm: return try gemm(request)
        case .softmax: return try softmax(request, .softmax)
        case .logSoftmax: return try softmax(request, .logSoftmax)
        case .hardmax: return try softmax(request, .hardmax)
        case .layerNormalization: return try layerNormalization(request)
        default: return nil
        }
    }

    private static func matMul(_ request: Request) throws -> PreparedKernel.Body? {
        guard request.inputs.count == 2, let a = request.input(0), let b = request.input(1) else { return nil }
        let plan = try MatMulPlan(a.shape, b.shape)
        // An empty inner dimension leaves the zeros the evaluator's output starts with.
        guard plan.outputShape == request.shape, plan.k > 0 else { return nil }
        return .compute { inputs, output, threads in
            plan.run(a: inputs.typed(0, Float.self), b: inputs.typed(1, Float.self), c: output.typed(Float.self), threads: threads)
        }
    }

    private static func gemm(_ request: Request) throws -> PreparedKernel.Body? {
        guard let a = request.input(0), let b = request.input(1), a.shape.count == 2, b.shape.count == 2 else { return nil }
        let attributes = request.node.attributes
        let parameters = MatrixProducts.GemmParameters(
            alpha: try attributes.float("alpha", default: 1), beta: try attributes.float("beta", default: 1),
            transA: try attributes.int("transA", default: 0) != 0, transB: try attributes.int("transB", default: 0) != 0)
        let c = request.input(2)
        let plan = try GemmPlan(a.shape, b.shape, c: c?.shape, parameters)
        // An empty inner dimension leaves the zeros the evaluator's output starts with.
        guard plan.outputShape == request.shape, (parameters.transA ? a.shape[0] : a.shape[1]) > 0 else { return nil }
        let hasC = c != nil
        return .compute { inputs, output, threads in
            plan.run(
                a: inputs.typed(0, Float.self), b: inputs.typed(1, Float.self), c: hasC ? inputs.typed(2, Float.self) : nil,
                output: output.typed(Float.self), threads: threads)
        }
    }

    private static func softmax(_ request: Request, _ kind: Softmax.Kind) throws -> PreparedKernel.Body? {
        guard let x = request.input(0), x.shape == request.shape else { return nil }
        let (outer, length, inner) = try Evaluators.softmaxView(request.node, x.shape)
        guard length > 0 else { return nil }
        return .compute { inputs, output, threads in
            Softmax.run(
                kind, inputs.typed(0, Float.self), output.typed(Float.self), outer: outer, length: length, inner: inner,
                threads: threads)
        }
    }

    private static func layerNormalization(_ request: Request) throws -> PreparedKernel.Body? {
        let attributes = request.node.attributes
        guard let x = request.input(0), x.shape == request.shape, let scale = request.input(1) else { return nil }
        let axis = try Evaluators.normalizedAxis(try attributes.int("axis", default: -1), rank: x.shape.count)
        let epsilon = try attributes.float("epsilon", default: 1e-5)
        let trailing = Array(x.shape[axis...])
        let length = Tensor.elementCount(trailing)
        let rows = Tensor.elementCount(Array(x.shape[..<axis]))
        // Scale and bias read element for element along the row (no broadcast inside it).
        func alongRow(_ operand: Operand) -> Bool {
            Tensor.elementCount(operand.shape) == length && Broadcast.shape([operand.shape, trailing]) == trailing
        }
        let bias = request.input(2)
        guard alongRow(scale), bias.map(alongRow) ?? true else { return nil }
        // No bias adds zeros, as the evaluator does (which turns -0 into +0).
        let zeros = [Float](repeating: 0, count: length)
        let hasBias = bias != nil
        return .compute { inputs, output, threads in
            zeros.withUnsafeBufferPointer { zeros in
                Normalization.layerNormFloat(
                    inputs.typed(0, Float.self), output.typed(Float.self), rows: rows, length: length,
                    epsilon: epsilon, scales: inputs.typed(1, Float.self),
                    biases: hasBias ? inputs.typed(2, Float.self) : zeros.baseAddress!, statistics: nil,
                    threads: threads)
            }
        }
    }
}
