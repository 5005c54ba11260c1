import KilnCore
import KilnIR

/// A node's kernel with everything that depends only on its attributes and its input
/// shapes and dtypes resolved when ``ExecutionPlan`` compiles the step: attributes decoded,
/// the output shape, broadcast rows, strides and GEMM dimensions computed once. A run only
/// reads the input buffers and writes output 0 (no shape checks, no allocation).
///
/// The node's evaluator stays the definition: a prepared kernel calls the same `KilnKernels`
/// functions on the same operands, so its output is bit for bit the evaluator's. Steps
/// without a prepared form (dynamic shapes, other ops, dtypes or extra outputs) run their
/// evaluator.
final class PreparedKernel: Sendable {
    /// Writes output 0 from the input buffers (one per node input, in order; an omitted
    /// optional input has no entry the body reads). The output may be an input's buffer
    /// (an in-place elementwise op).
    typealias Compute = @Sendable (
        _ inputs: UnsafePointer<UnsafeRawPointer>, _ output: UnsafeMutableRawPointer, _ threads: Int
    ) -> Void

    /// What the kernel does.
    enum Body: Sendable {
        /// Computes output 0 into a buffer of ``PreparedKernel/shape`` × ``PreparedKernel/dtype``
        /// that it overwrites entirely.
        case compute(Compute)
        /// Output 0 is input 0 under ``PreparedKernel/shape`` (Reshape, Flatten, Squeeze,
        /// Unsqueeze, Identity).
        case view
    }

    /// Output 0's shape.
    let shape: [Int]
    /// Output 0's dtype.
    let dtype: DType
    /// The run.
    let body: Body
    /// Per node input, the bytes its tensor must hold (0 for an omitted input): a run checks
    /// them before it hands the buffers out.
    let inputBytes: [Int]

    /// Output 0's byte count.
    let outputBytes: Int

    // A class: the run loop then retains one reference per step instead of each field.
    init(shape: [Int], dtype: DType, body: Body, inputBytes: [Int]) {
        self.shape = shape
        self.dtype = dtype
        self.body = body
        self.inputBytes = inputBytes
        outputBytes = Tensor.elementCount(shape) * dtype.byteSize
    }
}

/// The prepared forms of the ops, one family per file (`PreparedKernels+<Family>.swift`).
enum PreparedKernels {
    /// The prepared kernel of `node` in the shape-inferred `graph`, or `nil` when the node
    /// has none: an op without a prepared form, an input or output 0 without a static shape
    /// and dtype, an empty output, or another output in use.
    ///
    /// - Throws: what decoding the node's attributes throws (the evaluator would throw the same).
    static func make(_ node: Node, _ graph: Graph) throws -> PreparedKernel? {
        guard let outputID = node.outputs.first ?? nil, node.outputs.dropFirst().allSatisfy({ $0 == nil }),
            let shape = graph[outputID].type.staticShape, let dtype = graph[outputID].type.dtype,
            Tensor.elementCount(shape) > 0
        else { return nil }
        var inputs: [Operand?] = []
        for input in node.inputs {
            guard let input else {
                inputs.append(nil)
                continue
            }
            guard let inputShape = graph[input].type.staticShape, let inputDType = graph[input].type.dtype else {
                return nil
            }
            inputs.append(Operand(shape: inputShape, dtype: inputDType))
        }
        let request = Request(node: node, inputs: inputs, shape: shape, dtype: dtype)
        guard let body = try elementwise(request) ?? nn(request) ?? dataMovement(request) else { return nil }
        return PreparedKernel(
            shape: shape, dtype: dtype, body: body,
            inputBytes: inputs.map { $0.map { Tensor.elementCount($0.shape) * $0.dtype.byteSize } ?? 0 })
    }

    /// One input of the node being prepared.
    struct Operand {
        let shape: [Int]
        let dtype: DType
    }

    /// What a family's factory sees: the node, its inputs and output 0.
    struct Request {
        let node: Node
        let inputs: [Operand?]
        /// Output 0's shape.
        let shape: [Int]
        /// Output 0's dtype.
        let dtype: DType

        /// Input `index` when present.
        func input(_ index: Int) -> Operand? {
            index < inputs.count ? inputs[index] : nil
        }

        /// Whether every present input and the output are float32.
        var isFloat32: Bool {
            dtype == .float32 && inputs.allSatisfy { $0 == nil || $0?.dtype == .float32 }
        }
    }
}

extension UnsafePointer<UnsafeRawPointer> {
    /// Input `index` as a `T` buffer.
    @inline(__always)
    func typed<T>(_ index: Int, _ type: T.Type) -> UnsafePointer<T> {
        self[index].assumingMemoryBound(to: T.self)
    }
}

extension UnsafeMutableRawPointer {
    /// The output as a `T` buffer.
    @inline(__always)
    func typed<T>(_ type: T.Type) -> UnsafeMutablePointer<T> {
        assumingMemoryBound(to: T.self)
    }
}
