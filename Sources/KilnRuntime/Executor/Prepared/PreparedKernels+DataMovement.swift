import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels

extension PreparedKernels {
    /// Prepared views (`Reshape`, `Flatten`, `Squeeze`, `Unsqueeze`, `Identity`: input 0
    /// under the inferred output shape) and `Transpose` (a ``StridedCopyPlan`` of the permuted
    /// strides: the address arithmetic done once), for any dtype.
    static func dataMovement(_ request: Request) throws -> PreparedKernel.Body? {
        guard let x = request.input(0), x.dtype == request.dtype else { return nil }
        switch request.node.op {
        case .reshape, .flatten, .squeeze, .unsqueeze, .identity:
            guard Tensor.elementCount(x.shape) == Tensor.elementCount(request.shape) else { return nil }
            return .view
        case .transpose:
            let permutation = try Evaluators.transposePermutation(request.node, rank: x.shape.count)
            let strides = Tensor.strides(x.shape)
            let shape = permutation.map { x.shape[$0] }
            guard shape == request.shape else { return nil }
            let copy = StridedCopyPlan(
                offset: 0, strides: permutation.map { strides[$0] }, shape: shape, elementSize: x.dtype.byteSize)
            return .compute { inputs, output, threads in
                copy.run(from: inputs[0], to: output, threads: threads)
            }
        default:
            return nil
        }
    }
}
