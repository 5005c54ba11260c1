import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels

extension PreparedKernels {
    /// Prepared views (`Reshape`, `Flatten`, `Squeeze`, `Unsqueeze`, `Identity`: input 0
    /// under the inferred output shape) and `Transpose` (``StridedCopy`` with the permuted
    /// strides computed once), for any dtype.
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
            let permuted = permutation.map { strides[$0] }
            let elementSize = x.dtype.byteSize
            return .compute { inputs, output, threads in
                StridedCopy.copy(
                    from: inputs[0], offset: 0, strides: permuted, shape: shape, elementSize: elementSize, to: output,
                    threads: threads)
            }
        default:
            return nil
        }
    }
}
