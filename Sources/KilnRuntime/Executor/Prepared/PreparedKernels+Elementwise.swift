import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels

extension PreparedKernels {
    /// Prepared float32 `Add`, `Sub`, `Mul`, `Div` (any broadcast: the row table of a
    /// ``FloatBinaryRowPlan``) and unary math and activations (``UnaryKernels``' float kernels,
    /// the evaluator's).
    static func elementwise(_ request: Request) throws -> PreparedKernel.Body? {
        let node = request.node
        guard request.isFloat32 else { return nil }
        if let op = Evaluators.arithmeticOp(of: node) {
            guard request.inputs.count == 2, let a = request.input(0), let b = request.input(1),
                Broadcast.shape([a.shape, b.shape]) == request.shape,
                let plan = FloatBinaryRowPlan(op, a.shape, b.shape)
            else { return nil }
            return .compute { inputs, output, threads in
                plan.run(inputs.typed(0, Float.self), inputs.typed(1, Float.self), output.typed(Float.self), threads: threads)
            }
        }
        if let op = try Evaluators.unaryOp(of: node) {
            guard let x = request.input(0), x.shape == request.shape else { return nil }
            let count = Tensor.elementCount(x.shape)
            return .compute { inputs, output, threads in
                UnaryKernels.floating(
                    op, UnsafeBufferPointer(start: inputs.typed(0, Float.self), count: count),
                    UnsafeMutableBufferPointer(start: output.typed(Float.self), count: count), threads)
            }
        }
        return nil
    }
}
