import KilnCore

/// The ONNX matrix-product operators over tensors: `MatMul` (NumPy batched broadcasting)
/// and `Gemm` (`alpha * op(A) * op(B) + beta * C`). float32 runs on the blocked ``Gemm``;
/// other element types on ``ReferenceLinearAlgebra``.
package enum MatrixProducts {
    /// The output shape of `MatMul(a, b)`: 1-D operands are promoted (a row / column
    /// vector) and the promoted axis removed again; batch axes broadcast.
    ///
    /// - Throws: `shapeMismatch` for mismatched inner dimensions or batch axes.
    package static func matMulShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        guard !a.isEmpty, !b.isEmpty else {
            throw KilnError(.shapeMismatch, "MatMul operands must have rank >= 1, got \(a) and \(b)")
        }
        let left = a.count == 1 ? [1] + a : a
        let right = b.count == 1 ? b + [1] : b
        guard left[left.count - 1] == right[right.count - 2] else {
            throw KilnError(.shapeMismatch, "MatMul inner dimensions differ: \(a) x \(b)")
        }
        var shape = try Broadcast.checkedShape([Array(left.dropLast(2)), Array(right.dropLast(2))])
        if a.count > 1 { shape.append(left[left.count - 2]) }
        if b.count > 1 { shape.append(right[right.count - 1]) }
        return shape
    }

    /// `output = MatMul(a, b)`; `output` has ``matMulShape(_:_:)`` and `a`'s dtype. `plan`,
    /// when the caller has it, is the ``MatMulPlan`` of the operands' shapes.
    ///
    /// - Throws: `shapeMismatch`, `kernelMissing` for a dtype without a kernel.
    package static func matMul(a: Tensor, b: Tensor, output: inout Tensor, threads: Int, plan: MatMulPlan? = nil) throws {
        guard a.dtype == b.dtype else {
            throw KilnError(.shapeMismatch, "MatMul operands have different dtypes \(a.dtype) and \(b.dtype)")
        }
        let plan = try plan ?? MatMulPlan(a.shape, b.shape)
        switch a.dtype {
        case .float32: matMul(a, b, &output, plan, threads: threads, as: Float.self)
        case .float64: matMul(a, b, &output, plan, threads: threads, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: matMul(a, b, &output, plan, threads: threads, as: Float16.self)
        #endif
        case .int32: matMul(a, b, &output, plan, threads: threads, as: Int32.self)
        case .int64: matMul(a, b, &output, plan, threads: threads, as: Int64.self)
        case .uint32: matMul(a, b, &output, plan, threads: threads, as: UInt32.self)
        case .uint64: matMul(a, b, &output, plan, threads: threads, as: UInt64.self)
        default: throw KilnError(.kernelMissing, "[MatMul] no \(a.dtype) kernel")
        }
    }

    private static func matMul<T: ProductElement>(
        _ a: Tensor, _ b: Tensor, _ output: inout Tensor, _ plan: MatMulPlan, threads: Int, as type: T.Type
    ) {
        a.withUnsafeBufferPointer(as: T.self) { aBuffer in
            b.withUnsafeBufferPointer(as: T.self) { bBuffer in
                output.withUnsafeMutableBufferPointer(as: T.self) { cBuffer in
                    guard let aBase = aBuffer.baseAddress, let bBase = bBuffer.baseAddress,
                        let cBase = cBuffer.baseAddress
                    else { return }
                    plan.run(a: aBase, b: bBase, c: cBase, threads: threads)
                }
            }
        }
    }

    /// `C = A * B` (row-major with row strides) on the fastest kernel for `T`: the blocked
    /// GEMM for float32 (and, widened, float16), ``ReferenceLinearAlgebra`` otherwise.
    package static func multiply<T: ProductElement>(
        m: Int, n: Int, k: Int, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
        c: UnsafeMutablePointer<T>, ldc: Int, threads: Int
    ) {
        if T.self == Float.self {
            Gemm.multiply(
                m: m, n: n, k: k, alpha: 1,
                a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda: lda, transA: false,
                b: UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), ldb: ldb, transB: false,
                beta: 0, c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc,
                threads: threads)
        } else if isHalf(T.self) {
            multiplyWidened(
                m: m, n: n, k: k, a: UnsafeRawPointer(a), lda: lda, b: UnsafeRawPointer(b), ldb: ldb,
                c: UnsafeMutableRawPointer(c), ldc: ldc, threads: threads)
        } else {
            ReferenceLinearAlgebra.matMulStrided(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        }
    }

    private static func isHalf<T>(_ type: T.Type) -> Bool {
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        return type == Float16.self
        #else
        return false
        #endif
    }

    /// float16 `C = A * B`: widened to float32, multiplied on the blocked GEMM, rounded once.
    private static func multiplyWidened(
        m: Int, n: Int, k: Int, a: UnsafeRawPointer, lda: Int, b: UnsafeRawPointer, ldb: Int,
        c: UnsafeMutableRawPointer, ldc: Int, threads: Int
    ) {
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        let halfA = a.assumingMemoryBound(to: Float16.self)
        let halfB = b.assumingMemoryBound(to: Float16.self)
        var left = [Float](repeating: 0, count: m * k)
        var right = [Float](repeating: 0, count: k * n)
        for i in 0..<m {
            for p in 0..<k { left[i * k + p] = Float(halfA[i * lda + p]) }
        }
        for p in 0..<k {
            for j in 0..<n { right[p * n + j] = Float(halfB[p * ldb + j]) }
        }
        var product = [Float](repeating: 0, count: m * n)
        Gemm.multiply(
            m: m, n: n, k: k, alpha: 1, a: left, lda: k, transA: false, b: right, ldb: n, transB: false,
            beta: 0, c: &product, ldc: n, threads: threads)
        let target = c.assumingMemoryBound(to: Float16.self)
        for i in 0..<m {
            for j in 0..<n { target[i * ldc + j] = Float16(product[i * n + j]) }
        }
        #endif
    }

    /// Attributes of ONNX `Gemm`.
    package struct GemmParameters: Sendable {
        /// Scale of the product.
        package var alpha: Float
        /// Scale of `C`.
        package var beta: Float
        /// Whether A is given transposed (`k × m`).
        package var transA: Bool
        /// Whether B is given transposed (`n × k`).
        package var transB: Bool

        /// Creates parameters.
        package init(alpha: Float, beta: Float, transA: Bool, transB: Bool) {
            self.alpha = alpha
            self.beta = beta
            self.transA = transA
            self.transB = transB
        }
    }

    /// The `[m, n]` output shape of `Gemm`.
    ///
    /// - Throws: `shapeMismatch` when A, B are not matrices with matching inner
    ///   dimensions, or `C` does not broadcast (unidirectionally) to `[m, n]`.
    package static func gemmShape(_ a: [Int], _ b: [Int], c: [Int]?, _ parameters: GemmParameters) throws -> [Int] {
        guard a.count == 2, b.count == 2 else {
            throw KilnError(.shapeMismatch, "Gemm needs 2-D A and B, got \(a) and \(b)")
        }
        let (m, k) = parameters.transA ? (a[1], a[0]) : (a[0], a[1])
        let (kb, n) = parameters.transB ? (b[1], b[0]) : (b[0], b[1])
        guard k == kb else {
            throw KilnError(.shapeMismatch, "Gemm inner dimensions differ: A \(a) transA=\(parameters.transA), B \(b) transB=\(parameters.transB)")
        }
        if let c, Broadcast.shape([c, [m, n]]) != [m, n] {
            throw KilnError(.shapeMismatch, "Gemm C of shape \(c) does not broadcast to [\(m), \(n)]")
        }
        return [m, n]
    }

    /// `output = alpha * op(a) * op(b) + beta * c`, `c` broadcast to the `[m, n]` output.
    ///
    /// - Throws: `shapeMismatch`, `kernelMissing` for a dtype without a kernel.
    package static func gemm(
        a: Tensor, b: Tensor, c: Tensor?, _ parameters: GemmParameters, output: inout Tensor, threads: Int
    ) throws {
        guard a.dtype == b.dtype, c.map({ $0.dtype == a.dtype }) ?? true else {
            throw KilnError(.shapeMismatch, "Gemm operands have different dtypes")
        }
        let shape = try gemmShape(a.shape, b.shape, c: c?.shape, parameters)
        switch a.dtype {
        case .float32:
            let plan = try GemmPlan(a.shape, b.shape, c: c?.shape, parameters)
            a.withUnsafeBufferPointer(as: Float.self) { aBuffer in
                b.withUnsafeBufferPointer(as: Float.self) { bBuffer in
                    output.withUnsafeMutableBufferPointer(as: Float.self) { cBuffer in
                        guard let aBase = aBuffer.baseAddress, let bBase = bBuffer.baseAddress,
                            let cBase = cBuffer.baseAddress
                        else { return }
                        if let c {
                            c.withUnsafeBufferPointer(as: Float.self) { bias in
                                plan.run(a: aBase, b: bBase, c: bias.baseAddress, output: cBase, threads: threads)
                            }
                        } else {
                            plan.run(a: aBase, b: bBase, c: nil, output: cBase, threads: threads)
                        }
                    }
                }
            }
        case .float64: referenceGemm(a, b, c, parameters, shape, &output, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: referenceGemm(a, b, c, parameters, shape, &output, as: Float16.self)
        #endif
        default: throw KilnError(.kernelMissing, "[Gemm] no \(a.dtype) kernel")
        }
    }

    private static func referenceGemm<T: ProductElement & BinaryFloatingPoint>(
        _ a: Tensor, _ b: Tensor, _ c: Tensor?, _ parameters: GemmParameters, _ shape: [Int],
        _ output: inout Tensor, as type: T.Type
    ) {
        let (m, n) = (shape[0], shape[1])
        let k = parameters.transA ? a.shape[0] : a.shape[1]
        let left = a.scalars(as: T.self)
        let right = b.scalars(as: T.self)
        let bias = c.map { c in
            let values = c.scalars(as: T.self)
            return Broadcast.indices(of: c.shape, to: shape).map { values[$0] }
        }
        output.withUnsafeMutableBufferPointer(as: T.self) { out in
            for i in 0..<m {
                for j in 0..<n {
                    var accumulator = 0.0
                    for p in 0..<k {
                        let x = parameters.transA ? left[p * m + i] : left[i * k + p]
                        let y = parameters.transB ? right[j * k + p] : right[p * n + j]
                        accumulator = Double(x) * Double(y) + accumulator
                    }
                    let scaled = Double(parameters.alpha) * accumulator
                    out[i * n + j] = T(scaled + (bias.map { Double(parameters.beta) * Double($0[i * n + j]) } ?? 0))
                }
            }
        }
    }
}

/// The loop of `MatMul` over fixed operand shapes: dimensions, batch count and the batch
/// offsets into each operand, computed once. ``MatrixProducts/matMul(a:b:output:threads:)``
/// builds one per call; an executor that knows the shapes in advance builds it once.
package struct MatMulPlan: Sendable {
    /// The output shape (``MatrixProducts/matMulShape(_:_:)``).
    package let outputShape: [Int]
    /// Rows of each product.
    package let m: Int
    /// Columns of each product.
    package let n: Int
    /// The inner dimension.
    package let k: Int
    private let batchCount: Int
    /// Per batch, the matrix index read from A and from B; `nil` when B is one matrix (all
    /// of A's batches then form one tall product).
    private let batchOffsets: (a: [Int], b: [Int])?

    /// Plans `MatMul` of operands of shapes `a` and `b`.
    ///
    /// - Throws: `shapeMismatch` for mismatched inner dimensions or batch axes.
    package init(_ a: [Int], _ b: [Int]) throws {
        outputShape = try MatrixProducts.matMulShape(a, b)
        let left = a.count == 1 ? [1] + a : a
        let right = b.count == 1 ? b + [1] : b
        m = left[left.count - 2]
        k = left[left.count - 1]
        n = right[right.count - 1]
        let leftBatch = Array(left.dropLast(2))
        let rightBatch = Array(right.dropLast(2))
        let batch = try Broadcast.checkedShape([leftBatch, rightBatch])
        batchCount = Tensor.elementCount(batch)
        batchOffsets =
            Tensor.elementCount(rightBatch) == 1
            ? nil : (Broadcast.indices(of: leftBatch, to: batch), Broadcast.indices(of: rightBatch, to: batch))
    }

    /// `c = MatMul(a, b)` over row-major buffers of the planned shapes.
    package func run<T: ProductElement>(
        a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>, threads: Int
    ) {
        guard m > 0, n > 0 else { return }
        let (m, n, k) = (self.m, self.n, self.k)
        guard let (aOffsets, bOffsets) = batchOffsets else {
            MatrixProducts.multiply(
                m: batchCount * m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n, threads: threads)
            return
        }
        let perBatch = batchCount >= threads && m * n * k < 1 << 20
        // Below ~200k multiply-adds in all, waking a second thread costs more than it saves
        // (as in `Gemm.forEachBlock`); the products do not depend on the split.
        let batchThreads = perBatch && batchCount * m * n * k >= 200_000 ? threads : 1
        Parallel.forEach(batchCount, threads: batchThreads) { range in
            for index in range {
                MatrixProducts.multiply(
                    m: m, n: n, k: k, a: a + aOffsets[index] * m * k, lda: k, b: b + bOffsets[index] * k * n, ldb: n,
                    c: c + index * m * n, ldc: n, threads: perBatch ? 1 : threads)
            }
        }
    }
}

/// float32 `Gemm` over fixed operand shapes: dimensions, leading dimensions and where each
/// output element reads `C` from, computed once. ``MatrixProducts/gemm(a:b:c:_:output:threads:)``
/// builds one per call; an executor that knows the shapes in advance builds it once.
package struct GemmPlan: Sendable {
    /// The `[m, n]` output shape.
    package let outputShape: [Int]
    private let parameters: MatrixProducts.GemmParameters
    private let k: Int
    private let lda: Int
    private let ldb: Int
    /// Per output element, the element of `C` it starts from; `nil` without `C`.
    private let cIndices: [Int]?

    /// Plans `Gemm` of `a`, `b` and optional `c` shapes.
    ///
    /// - Throws: `shapeMismatch` as ``MatrixProducts/gemmShape(_:_:c:_:)``.
    package init(_ a: [Int], _ b: [Int], c: [Int]?, _ parameters: MatrixProducts.GemmParameters) throws {
        let shape = try MatrixProducts.gemmShape(a, b, c: c, parameters)
        outputShape = shape
        self.parameters = parameters
        k = parameters.transA ? a[0] : a[1]
        lda = a[1]
        ldb = b[1]
        cIndices = c.map { Broadcast.indices(of: $0, to: shape) }
    }

    /// `output = alpha * op(a) * op(b) + beta * c` over row-major buffers of the planned
    /// shapes (`c` present exactly when the plan has one).
    package func run(
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
        threads: Int
    ) {
        var beta: Float = 0
        if let c, let cIndices {
            for (position, index) in cIndices.enumerated() { output[position] = c[index] }
            beta = parameters.beta
        }
        Gemm.multiply(
            m: outputShape[0], n: outputShape[1], k: k, alpha: parameters.alpha, a: a, lda: lda,
            transA: parameters.transA, b: b, ldb: ldb, transB: parameters.transB, beta: beta, c: output,
            ldc: outputShape[1], threads: threads)
    }
}
