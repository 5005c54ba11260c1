import CKilnKernels
import KilnCore

/// An activation function of a recurrent cell (ONNX `activations`, with its
/// `activation_alpha`/`activation_beta` already resolved).
package enum RecurrentActivation: Sendable, Equatable {
    /// `1 / (1 + e^−x)`.
    case sigmoid
    /// `tanh(x)`.
    case tanh
    /// `max(x, 0)`.
    case relu
    /// `x / (1 + |x|)`.
    case softsign
    /// `log(1 + e^x)`.
    case softplus
    /// `clamp(alpha·x + beta, 0, 1)`.
    case hardSigmoid(alpha: Float, beta: Float)
    /// `alpha·x + beta`.
    case affine(alpha: Float, beta: Float)
    /// `x` for `x ≥ 0`, else `alpha·x`.
    case leakyRelu(alpha: Float)
    /// `x` for `x > alpha`, else 0.
    case thresholdedRelu(alpha: Float)
    /// `alpha·tanh(beta·x)`.
    case scaledTanh(alpha: Float, beta: Float)
    /// `x` for `x ≥ 0`, else `alpha·(e^x − 1)`.
    case elu(alpha: Float)

    @inline(__always)
    func callAsFunction<T: NNScalar>(_ x: T) -> T {
        switch self {
        case .sigmoid: return 1 / (1 + T.exponential(-x))
        case .tanh: return T.hyperbolicTangent(x)
        case .relu: return max(x, 0)
        case .softsign: return x / (1 + abs(x))
        case .softplus: return T.logarithm(1 + T.exponential(x))
        case .hardSigmoid(let alpha, let beta): return min(1, max(0, T(alpha) * x + T(beta)))
        case .affine(let alpha, let beta): return T(alpha) * x + T(beta)
        case .leakyRelu(let alpha): return x >= 0 ? x : T(alpha) * x
        case .thresholdedRelu(let alpha): return x > T(alpha) ? x : 0
        case .scaledTanh(let alpha, let beta): return T(alpha) * T.hyperbolicTangent(T(beta) * x)
        case .elu(let alpha): return x >= 0 ? x : T(alpha) * (T.exponential(x) - 1)
        }
    }
}

/// ONNX LSTM and GRU over a whole sequence, every direction, with the optional inputs and
/// outputs. float32 with the default activations runs the native loop (`ckiln_lstm`,
/// `ckiln_gru`: the whole time-step loop in C, weights packed once per weight tensor by
/// ``RecurrentWeights``); everything else the generic loop here, which is also the
/// reference: the input projection of all time steps is one matrix product, and each step
/// multiplies the hidden state by the recurrence weights (``MatrixProducts/multiply``).
package enum Recurrent {
    /// Which cell.
    package enum Cell: Sendable {
        /// Gates `i, o, f, c` (4 blocks of `hidden` rows in W and R).
        case lstm
        /// Gates `z, r, h` (3 blocks).
        case gru
    }

    /// Attributes of one LSTM or GRU node.
    package struct Parameters: Sendable {
        /// The cell type.
        package var cell: Cell
        /// Hidden size `H`.
        package var hiddenSize: Int
        /// 1 or 2 (`bidirectional`).
        package var directions: Int
        /// Whether the single direction runs backwards in time (`reverse`).
        package var isReverse: Bool
        /// Per direction: `f, g, h` for LSTM, `f, g` for GRU.
        package var activations: [RecurrentActivation]
        /// Clip threshold for gate pre-activations.
        package var clip: Float?
        /// LSTM: couple the input and forget gates (`f = 1 − i`).
        package var inputForget: Bool
        /// GRU: apply the reset gate after the recurrent product.
        package var linearBeforeReset: Bool
        /// `layout == 1`: batch-major inputs and outputs.
        package var isBatchMajor: Bool

        /// Creates parameters.
        package init(
            cell: Cell, hiddenSize: Int, directions: Int, isReverse: Bool, activations: [RecurrentActivation],
            clip: Float?, inputForget: Bool, linearBeforeReset: Bool, isBatchMajor: Bool
        ) {
            self.cell = cell
            self.hiddenSize = hiddenSize
            self.directions = directions
            self.isReverse = isReverse
            self.activations = activations
            self.clip = clip
            self.inputForget = inputForget
            self.linearBeforeReset = linearBeforeReset
            self.isBatchMajor = isBatchMajor
        }

        var gates: Int { cell == .lstm ? 4 : 3 }
    }

    /// The operands (ONNX input order); absent optional inputs are `nil`.
    package struct Inputs {
        /// X: `[S, B, I]`, or `[B, S, I]` batch-major.
        package var x: Tensor
        /// W: `[D, G·H, I]`.
        package var w: Tensor
        /// R: `[D, G·H, H]`.
        package var r: Tensor
        /// B: `[D, 2·G·H]` (input then recurrent biases).
        package var bias: Tensor?
        /// sequence_lens: `[B]` int32/int64.
        package var sequenceLengths: Tensor?
        /// initial_h: like ``Outputs/lastH``.
        package var initialH: Tensor?
        /// initial_c (LSTM): like ``Outputs/lastH``.
        package var initialC: Tensor?
        /// P (LSTM peepholes): `[D, 3·H]` for `i, o, f`.
        package var peepholes: Tensor?

        /// Creates the operand set.
        package init(x: Tensor, w: Tensor, r: Tensor, bias: Tensor?, sequenceLengths: Tensor?, initialH: Tensor?, initialC: Tensor?, peepholes: Tensor?) {
            self.x = x
            self.w = w
            self.r = r
            self.bias = bias
            self.sequenceLengths = sequenceLengths
            self.initialH = initialH
            self.initialC = initialC
            self.peepholes = peepholes
        }
    }

    /// The outputs `Y`, `Y_h`, `Y_c` (LSTM only; `nil` for GRU).
    package struct Outputs {
        /// `[S, D, B, H]`, or `[B, S, D, H]` batch-major.
        package var y: Tensor
        /// `[D, B, H]`, or `[B, D, H]` batch-major.
        package var lastH: Tensor
        /// Like `lastH`; LSTM only.
        package var lastC: Tensor?
    }

    /// Runs the recurrence.
    ///
    /// float32 with the default activations takes the native time-step loop (`ckiln_lstm`,
    /// `ckiln_gru`) unless `native` is false; everything else, and that reference, the
    /// generic Swift loop.
    ///
    /// - Throws: `shapeMismatch` for inconsistent operand shapes, `invalidArgument` for a
    ///   sequence length outside `0...S`, `kernelMissing` for a non-float dtype.
    package static func run(_ inputs: Inputs, _ parameters: Parameters, threads: Int, native: Bool = true) throws -> Outputs {
        switch inputs.x.dtype {
        case .float32:
            if native, let outputs = try runNative(inputs, parameters, threads) { return outputs }
            return try run(inputs, parameters, threads, as: Float.self)
        case .float64: return try run(inputs, parameters, threads, as: Double.self)
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        case .float16: return try run(inputs, parameters, threads, as: Float16.self)
        #endif
        default: throw KilnError(.kernelMissing, "[\(parameters.cell)] no \(inputs.x.dtype) kernel")
        }
    }

    private static func run<T: NNScalar & ProductElement>(
        _ inputs: Inputs, _ parameters: Parameters, _ threads: Int, as type: T.Type
    ) throws -> Outputs {
        let batchMajor = parameters.isBatchMajor
        guard inputs.x.rank == 3 else {
            throw KilnError(.shapeMismatch, "X \(inputs.x.shape) must have rank 3")
        }
        let (steps, batch) = batchMajor ? (inputs.x.shape[1], inputs.x.shape[0]) : (inputs.x.shape[0], inputs.x.shape[1])
        let inputSize = inputs.x.shape[2]
        let hidden = parameters.hiddenSize
        let directions = parameters.directions
        let gates = parameters.gates
        let width = gates * hidden
        func expect(_ tensor: Tensor?, _ shape: [Int], _ name: String) throws -> [T]? {
            guard let tensor else { return nil }
            guard tensor.shape == shape, tensor.dtype == inputs.x.dtype else {
                throw KilnError(.shapeMismatch, "\(name) is \(tensor.dtype)\(tensor.shape), expected \(inputs.x.dtype)\(shape)")
            }
            return tensor.scalars(as: T.self)
        }
        let stateShape = batchMajor ? [batch, directions, hidden] : [directions, batch, hidden]
        let wValues = try expect(inputs.w, [directions, width, inputSize], "W") ?? []
        let rValues = try expect(inputs.r, [directions, width, hidden], "R") ?? []
        let biasValues = try expect(inputs.bias, [directions, 2 * width], "B")
        let initialH = try expect(inputs.initialH, stateShape, "initial_h").map { fromStateLayout($0, batchMajor, directions, batch, hidden) }
        let initialC = try expect(inputs.initialC, stateShape, "initial_c").map { fromStateLayout($0, batchMajor, directions, batch, hidden) }
        let peepholes = try expect(inputs.peepholes, [directions, 3 * hidden], "P")
        var lengths = [Int](repeating: steps, count: batch)
        if let tensor = inputs.sequenceLengths {
            guard tensor.shape == [batch], let values = tensor.integerScalars(), values.allSatisfy({ (0...steps).contains($0) }) else {
                throw KilnError(.invalidArgument, "sequence_lens must be \(batch) integers in 0...\(steps), got \(tensor)")
            }
            lengths = values
        }
        // X as [S·B, I], time-major.
        var x = inputs.x.scalars(as: T.self)
        if batchMajor { x = swapLeadingAxes(x, batch, steps, inputSize) }

        var y = [T](repeating: 0, count: steps * directions * batch * hidden)
        var lastH = [T](repeating: 0, count: directions * batch * hidden)
        var lastC = [T](repeating: 0, count: directions * batch * hidden)
        for direction in 0..<directions {
            let isReverse = direction == 1 || parameters.isReverse
            let activations = Array(parameters.activations[(direction * (gates == 4 ? 3 : 2))...])
            // Wᵀ [I, G·H] and Rᵀ [H, G·H] for row-major products.
            let wT = transpose(Array(wValues[(direction * width * inputSize)..<((direction + 1) * width * inputSize)]), rows: width, columns: inputSize)
            let rT = transpose(Array(rValues[(direction * width * hidden)..<((direction + 1) * width * hidden)]), rows: width, columns: hidden)
            let wBias = biasValues.map { Array($0[(direction * 2 * width)..<(direction * 2 * width + width)]) } ?? [T](repeating: 0, count: width)
            let rBias = biasValues.map { Array($0[(direction * 2 * width + width)..<((direction + 1) * 2 * width)]) } ?? [T](repeating: 0, count: width)
            let peephole = peepholes.map { Array($0[(direction * 3 * hidden)..<((direction + 1) * 3 * hidden)]) }
            var projected = [T](repeating: 0, count: steps * batch * width)
            MatrixProducts.multiply(
                m: steps * batch, n: width, k: inputSize, a: x, lda: inputSize, b: wT, ldb: width,
                c: &projected, ldc: width, threads: threads)
            var h = initialH.map { Array($0[(direction * batch * hidden)..<((direction + 1) * batch * hidden)]) } ?? [T](repeating: 0, count: batch * hidden)
            var c = initialC.map { Array($0[(direction * batch * hidden)..<((direction + 1) * batch * hidden)]) } ?? [T](repeating: 0, count: batch * hidden)
            var recurrent = [T](repeating: 0, count: batch * width)
            var resetHidden = [T](repeating: 0, count: parameters.cell == .gru && !parameters.linearBeforeReset ? batch * hidden : 0)
            var resetProduct = resetHidden
            var gateScratch = [T](repeating: 0, count: width)
            var cellScratch = [T](repeating: 0, count: hidden)
            let step = Step(parameters: parameters, activations: activations, hidden: hidden, width: width)
            for s in 0..<steps {
                MatrixProducts.multiply(m: batch, n: width, k: hidden, a: h, lda: hidden, b: rT, ldb: width, c: &recurrent, ldc: width, threads: threads)
                if parameters.cell == .gru && !parameters.linearBeforeReset {
                    // r = f(x·Wrᵀ + h·Rrᵀ + biases), then (r ⊙ h)·Rhᵀ.
                    for b in 0..<batch where s < lengths[b] {
                        let t = isReverse ? lengths[b] - 1 - s : s
                        for j in 0..<hidden {
                            let gate = step.clipped(projected[(t * batch + b) * width + hidden + j] + recurrent[b * width + hidden + j] + wBias[hidden + j] + rBias[hidden + j])
                            resetHidden[b * hidden + j] = activations[0](gate) * h[b * hidden + j]
                        }
                    }
                    rT.withUnsafeBufferPointer { rPointer in
                        guard let rBase = rPointer.baseAddress else { return }
                        MatrixProducts.multiply(
                            m: batch, n: hidden, k: hidden, a: resetHidden, lda: hidden,
                            b: rBase + 2 * hidden, ldb: width, c: &resetProduct, ldc: hidden, threads: threads)
                    }
                }
                for b in 0..<batch where s < lengths[b] {
                    let t = isReverse ? lengths[b] - 1 - s : s
                    let row = (t * batch + b) * width
                    if parameters.cell == .lstm {
                        step.lstm(projected: projected, row: row, recurrent: recurrent, recurrentRow: b * width, wBias: wBias, rBias: rBias, peephole: peephole, h: &h, c: &c, state: b * hidden, gates: &gateScratch, cell: &cellScratch)
                    } else {
                        step.gru(projected: projected, row: row, recurrent: recurrent, recurrentRow: b * width, resetProduct: resetProduct, wBias: wBias, rBias: rBias, h: &h, state: b * hidden,
                            gates: &gateScratch)
                    }
                    for j in 0..<hidden { y[((t * directions + direction) * batch + b) * hidden + j] = h[b * hidden + j] }
                }
            }
            for index in 0..<(batch * hidden) {
                lastH[direction * batch * hidden + index] = h[index]
                lastC[direction * batch * hidden + index] = c[index]
            }
        }
        if batchMajor {
            // [S, D, B, H] → [B, S, D, H]; [D, B, H] → [B, D, H].
            y = swapLeadingAxes(y, steps * directions, batch, hidden)
            lastH = swapLeadingAxes(lastH, directions, batch, hidden)
            lastC = swapLeadingAxes(lastC, directions, batch, hidden)
        }
        let yShape = batchMajor ? [batch, steps, directions, hidden] : [steps, directions, batch, hidden]
        return Outputs(
            y: Tensor(shape: yShape, scalars: y), lastH: Tensor(shape: stateShape, scalars: lastH),
            lastC: parameters.cell == .lstm ? Tensor(shape: stateShape, scalars: lastC) : nil)
    }

    /// Whether the native loop covers `parameters`: the default activations in every direction.
    private static func hasNativeLoop(_ parameters: Parameters) -> Bool {
        let defaults: [RecurrentActivation] = parameters.cell == .lstm ? [.sigmoid, .tanh, .tanh] : [.sigmoid, .tanh]
        return parameters.hiddenSize > 0
            && parameters.activations == Array(Array(repeating: defaults, count: parameters.directions).joined())
    }

    /// The float32 recurrence through the native loop, reading the operands and writing the
    /// outputs in their own layouts (strides, no copies); `nil` when ``hasNativeLoop(_:)``
    /// does not hold. Directions and batch rows are independent chains: large problems split
    /// them over threads.
    private static func runNative(_ inputs: Inputs, _ parameters: Parameters, _ threads: Int) throws -> Outputs? {
        guard hasNativeLoop(parameters) else { return nil }
        let batchMajor = parameters.isBatchMajor
        let x = inputs.x
        guard x.rank == 3 else { throw KilnError(.shapeMismatch, "X \(x.shape) must have rank 3") }
        let (steps, batch) = batchMajor ? (x.shape[1], x.shape[0]) : (x.shape[0], x.shape[1])
        let (inputSize, hidden, directions) = (x.shape[2], parameters.hiddenSize, parameters.directions)
        let width = parameters.gates * hidden
        let stateShape = batchMajor ? [batch, directions, hidden] : [directions, batch, hidden]
        func check(_ tensor: Tensor?, _ shape: [Int], _ name: String) throws {
            guard let tensor else { return }
            guard tensor.shape == shape, tensor.dtype == .float32 else {
                throw KilnError(.shapeMismatch, "\(name) is \(tensor.dtype)\(tensor.shape), expected float32\(shape)")
            }
        }
        try check(inputs.w, [directions, width, inputSize], "W")
        try check(inputs.r, [directions, width, hidden], "R")
        try check(inputs.bias, [directions, 2 * width], "B")
        try check(inputs.initialH, stateShape, "initial_h")
        try check(inputs.initialC, stateShape, "initial_c")
        try check(inputs.peepholes, [directions, 3 * hidden], "P")
        var lengths: [Int]?
        if let tensor = inputs.sequenceLengths {
            guard tensor.shape == [batch], let values = tensor.integerScalars(), values.allSatisfy({ (0...steps).contains($0) }) else {
                throw KilnError(.invalidArgument, "sequence_lens must be \(batch) integers in 0...\(steps), got \(tensor)")
            }
            lengths = values
        }
        let yShape = batchMajor ? [batch, steps, directions, hidden] : [steps, directions, batch, hidden]
        var y = Tensor(zeros: yShape, dtype: .float32)
        var lastH = Tensor(zeros: stateShape, dtype: .float32)
        var lastC = parameters.cell == .lstm ? Tensor(zeros: stateShape, dtype: .float32) : nil
        // Element strides: time and batch of X and Y, batch of the states, and the offset of
        // direction d in Y and the states.
        let (xStep, xBatch) = batchMajor ? (inputSize, steps * inputSize) : (batch * inputSize, inputSize)
        let (yStep, yBatch) = batchMajor ? (directions * hidden, steps * directions * hidden) : (directions * batch * hidden, hidden)
        let (stateBatch, stateDirection) = batchMajor ? (directions * hidden, hidden) : (hidden, batch * hidden)
        // Split only work that outlasts waking the pool (multiply-adds per direction): the
        // directions first, then the batch in chunks of at least 4 rows (each chunk streams
        // all of R every step, which fewer rows do not amortize).
        let work = steps * batch * width * (inputSize + hidden)
        let chunks = threads > 1 && work >= 1 << 16 ? max(1, min(batch / 4, threads / directions)) : 1
        let isa = NativeKernels.activeISA.rawValue
        let cell = parameters.cell
        // Weights packed on the first call (per storage): each direction's share.
        let packedW = RecurrentWeights.shared.packed(inputs.w, .inputWeights, isa: isa)
        let packedR = RecurrentWeights.shared.packed(inputs.r, .recurrentWeights(gru: cell == .gru), isa: isa)
        let packedWCount = Int(ckiln_sgemm_packed_b_count(inputSize, width))
        let packedRCount = Int(ckiln_recurrent_packed_r_count(isa, cell == .gru ? 1 : 0, hidden))
        let lengthBuffer = lengths.map { values in
            let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: values.count)
            _ = buffer.initialize(from: values)
            return buffer
        }
        defer { lengthBuffer?.deallocate() }
        // Direction 0's problem; direction d reads and writes at fixed offsets from it.
        var problem = ckiln_recurrence()
        (problem.steps, problem.batch, problem.input, problem.hidden) = (steps, batch, inputSize, hidden)
        (problem.x, problem.x_step, problem.x_batch) = (floats(x), xStep, xBatch)
        (problem.w, problem.r, problem.bias, problem.peepholes) = (floats(inputs.w), floats(inputs.r), floats(inputs.bias), floats(inputs.peepholes))
        problem.packed_w = packedW.map { UnsafePointer($0.pointer) }
        problem.packed_r = packedR.map { UnsafePointer($0.pointer) }
        problem.lengths = lengthBuffer.flatMap { UnsafePointer($0.baseAddress) }
        (problem.initial_h, problem.initial_c, problem.state_batch) = (floats(inputs.initialH), floats(inputs.initialC), stateBatch)
        (problem.y_step, problem.y_batch) = (yStep, yBatch)
        problem.reverse = parameters.isReverse ? 1 : 0
        problem.clip = parameters.clip ?? .infinity
        problem.input_forget = parameters.inputForget ? 1 : 0
        problem.linear_before_reset = parameters.linearBeforeReset ? 1 : 0
        let yDirection = batchMajor ? hidden : batch * hidden
        withExtendedLifetime((inputs, packedW, packedR)) {
            y.withUnsafeMutableBufferPointer(as: Float.self) { yValues in
                lastH.withUnsafeMutableBufferPointer(as: Float.self) { lastHValues in
                    withMutablePointer(&lastC) { lastCBase in
                        (problem.y, problem.last_h, problem.last_c) = (yValues.baseAddress, lastHValues.baseAddress, lastCBase)
                        let first = problem
                        Parallel.forEach(directions * chunks, threads: threads) { tasks in
                            for task in tasks {
                                let (d, chunk) = (task / chunks, task % chunks)
                                var problem = first
                                if d > 0 {
                                    problem.w = problem.w.map { $0 + d * width * inputSize }
                                    problem.r = problem.r.map { $0 + d * width * hidden }
                                    problem.packed_w = problem.packed_w.map { $0 + d * packedWCount }
                                    problem.packed_r = problem.packed_r.map { $0 + d * packedRCount }
                                    problem.bias = problem.bias.map { $0 + d * 2 * width }
                                    problem.peepholes = problem.peepholes.map { $0 + d * 3 * hidden }
                                    problem.initial_h = problem.initial_h.map { $0 + d * stateDirection }
                                    problem.initial_c = problem.initial_c.map { $0 + d * stateDirection }
                                    problem.last_h = problem.last_h.map { $0 + d * stateDirection }
                                    problem.last_c = problem.last_c.map { $0 + d * stateDirection }
                                    problem.y = problem.y.map { $0 + d * yDirection }
                                    problem.reverse = 1
                                }
                                let (begin, end) = (batch * chunk / chunks, batch * (chunk + 1) / chunks)
                                let status = cell == .lstm ? ckiln_lstm(isa, &problem, begin, end) : ckiln_gru(isa, &problem, begin, end)
                                precondition(status == 0, "out of memory for the recurrence scratch")
                            }
                        }
                    }
                }
            }
        }
        return Outputs(y: y, lastH: lastH, lastC: lastC)
    }

    /// The float32 elements of an optional tensor, read in place (the caller keeps it alive).
    private static func floats(_ tensor: Tensor?) -> UnsafePointer<Float>? {
        tensor.map { UnsafePointer<Float>(OpaquePointer($0.baseAddress)) }
    }

    /// The float32 elements of an optional output tensor, for writing.
    private static func withMutablePointer<R>(_ tensor: inout Tensor?, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
        guard tensor != nil else { return body(nil) }
        return tensor!.withUnsafeMutableBufferPointer(as: Float.self) { body($0.baseAddress) }
    }

    /// `[B, D, H]` state in batch-major layout → `[D, B, H]`.
    private static func fromStateLayout<T>(_ values: [T], _ batchMajor: Bool, _ directions: Int, _ batch: Int, _ hidden: Int) -> [T] {
        batchMajor ? swapLeadingAxes(values, batch, directions, hidden) : values
    }

    /// `[a, b, rest]` → `[b, a, rest]`.
    private static func swapLeadingAxes<T>(_ values: [T], _ a: Int, _ b: Int, _ rest: Int) -> [T] {
        var result = values
        for i in 0..<a {
            for j in 0..<b {
                for k in 0..<rest { result[(j * a + i) * rest + k] = values[(i * b + j) * rest + k] }
            }
        }
        return result
    }

    private static func transpose<T>(_ values: [T], rows: Int, columns: Int) -> [T] {
        swapLeadingAxes(values, rows, columns, 1)
    }
}

/// The gate arithmetic of one time step for one batch entry.
private struct Step {
    let parameters: Recurrent.Parameters
    let activations: [RecurrentActivation]
    let hidden: Int
    let width: Int

    @inline(__always)
    func clipped<T: NNScalar>(_ value: T) -> T {
        guard let clip = parameters.clip else { return value }
        return min(max(value, T(-clip)), T(clip))
    }

    /// `activation` over `values[range]` in place: float32 sigmoid and tanh through the
    /// native vector kernels, everything else element by element.
    @inline(__always)
    func activate<T: NNScalar>(_ activation: RecurrentActivation, _ values: inout [T], _ range: Range<Int>) {
        if T.self == Float.self, activation == .sigmoid || activation == .tanh, NativeKernels.activeISA >= .avx2 {
            let function = Int32(activation == .sigmoid ? CKILN_SIGMOID : CKILN_TANH)
            values.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                let pointer = UnsafeMutableRawPointer(base + range.lowerBound).assumingMemoryBound(to: Float.self)
                ckiln_vector_math(NativeKernels.activeISA.rawValue, function, pointer, pointer, range.count)
            }
            return
        }
        for index in range { values[index] = activation(values[index]) }
    }

    /// `i, o, f, c` gates; updates `h` and `c` at `state`. `gates` (`width`) and `cell`
    /// (`hidden`) are scratch: each gate block is activated as one vector.
    func lstm<T: NNScalar>(
        projected: [T], row: Int, recurrent: [T], recurrentRow: Int, wBias: [T], rBias: [T], peephole: [T]?,
        h: inout [T], c: inout [T], state: Int, gates: inout [T], cell: inout [T]
    ) {
        let (f, g, outputActivation) = (activations[0], activations[1], activations[2])
        for column in 0..<width {
            gates[column] = projected[row + column] + recurrent[recurrentRow + column] + wBias[column] + rBias[column]
        }
        for j in 0..<hidden {
            let previousC = c[state + j]
            gates[j] = clipped(gates[j] + (peephole?[j] ?? 0) * previousC)
            gates[2 * hidden + j] = clipped(gates[2 * hidden + j] + (peephole?[2 * hidden + j] ?? 0) * previousC)
            gates[3 * hidden + j] = clipped(gates[3 * hidden + j])
        }
        activate(f, &gates, 0..<hidden)
        if !parameters.inputForget { activate(f, &gates, (2 * hidden)..<(3 * hidden)) }
        activate(g, &gates, (3 * hidden)..<width)
        for j in 0..<hidden {
            let inputGate = gates[j]
            let forgetGate = parameters.inputForget ? 1 - inputGate : gates[2 * hidden + j]
            let newC = forgetGate * c[state + j] + inputGate * gates[3 * hidden + j]
            c[state + j] = newC
            cell[j] = newC
            gates[hidden + j] = clipped(gates[hidden + j] + (peephole?[hidden + j] ?? 0) * newC)
        }
        activate(f, &gates, hidden..<(2 * hidden))
        activate(outputActivation, &cell, 0..<hidden)
        for j in 0..<hidden { h[state + j] = gates[hidden + j] * cell[j] }
    }

    /// `z, r, h` gates; updates `h` at `state`. `gates` (`width`) is scratch.
    func gru<T: NNScalar>(
        projected: [T], row: Int, recurrent: [T], recurrentRow: Int, resetProduct: [T], wBias: [T], rBias: [T],
        h: inout [T], state: Int, gates: inout [T]
    ) {
        let (f, g) = (activations[0], activations[1])
        func input(_ gate: Int, _ j: Int) -> T { projected[row + gate * hidden + j] + wBias[gate * hidden + j] }
        func hiddenPart(_ gate: Int, _ j: Int) -> T { recurrent[recurrentRow + gate * hidden + j] + rBias[gate * hidden + j] }
        for j in 0..<hidden {
            gates[j] = clipped(input(0, j) + hiddenPart(0, j))
            if parameters.linearBeforeReset { gates[hidden + j] = clipped(input(1, j) + hiddenPart(1, j)) }
        }
        activate(f, &gates, 0..<(parameters.linearBeforeReset ? 2 * hidden : hidden))
        for j in 0..<hidden {
            gates[2 * hidden + j] = parameters.linearBeforeReset
                ? clipped(input(2, j) + gates[hidden + j] * hiddenPart(2, j))
                : clipped(input(2, j) + resetProduct[state + j] + rBias[2 * hidden + j])
        }
        activate(g, &gates, (2 * hidden)..<(3 * hidden))
        for j in 0..<hidden {
            let update = gates[j]
            h[state + j] = (1 - update) * gates[2 * hidden + j] + update * h[state + j]
        }
    }
}
