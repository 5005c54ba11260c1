import Foundation
import KilnCore
import Testing

import KilnKernels

/// One-unit recurrent cells checked against the ONNX gate equations written out by hand.
struct RecurrentTests {
    private func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    private func parameters(_ cell: Recurrent.Cell, activations: [RecurrentActivation], clip: Float? = nil, inputForget: Bool = false, linearBeforeReset: Bool = false) -> Recurrent.Parameters {
        Recurrent.Parameters(
            cell: cell, hiddenSize: 1, directions: 1, isReverse: false, activations: activations, clip: clip,
            inputForget: inputForget, linearBeforeReset: linearBeforeReset, isBatchMajor: false)
    }

    @Test(arguments: [false, true])
    func gruFollowsTheResetConvention(linearBeforeReset: Bool) throws {
        let x: Float = 0.7
        let h0: Float = -0.4
        let w: [Float] = [0.3, -0.5, 0.8]
        let r: [Float] = [0.6, 0.2, -0.9]
        let recurrentBias: Float = 0.25
        let inputs = Recurrent.Inputs(
            x: Tensor(shape: [1, 1, 1], scalars: [x]), w: Tensor(shape: [1, 3, 1], scalars: w), r: Tensor(shape: [1, 3, 1], scalars: r),
            bias: Tensor(shape: [1, 6], scalars: [0, 0, 0, 0, 0, recurrentBias]), sequenceLengths: nil,
            initialH: Tensor(shape: [1, 1, 1], scalars: [h0]), initialC: nil, peepholes: nil)
        let outputs = try Recurrent.run(inputs, parameters(.gru, activations: [.sigmoid, .tanh], linearBeforeReset: linearBeforeReset), threads: 1)
        let z = sigmoid(x * w[0] + h0 * r[0])
        let reset = sigmoid(x * w[1] + h0 * r[1])
        let linear: Float = reset * (h0 * r[2] + recurrentBias)
        let resetFirst: Float = (reset * h0) * r[2] + recurrentBias
        let candidate: Float = tanh(x * w[2] + (linearBeforeReset ? linear : resetFirst))
        let expected = (1 - z) * candidate + z * h0
        #expect(abs(outputs.lastH.scalars(as: Float.self)[0] - expected) < 1e-6)
        #expect(outputs.y.shape == [1, 1, 1, 1])
    }

    @Test func lstmCouplesGatesClipsAndUsesPeepholes() throws {
        let (x, h0, c0) = (Float(2.0), Float(0.5), Float(-0.3))
        let w: [Float] = [1.5, -0.7, 0.9, 2.5]  // i, o, f, c
        let r: [Float] = [0.4, 0.3, -0.2, 0.6]
        let p: [Float] = [0.1, -0.2, 0.3]  // i, o, f
        let clip: Float = 2
        let inputs = Recurrent.Inputs(
            x: Tensor(shape: [1, 1, 1], scalars: [x]), w: Tensor(shape: [1, 4, 1], scalars: w), r: Tensor(shape: [1, 4, 1], scalars: r),
            bias: nil, sequenceLengths: nil, initialH: Tensor(shape: [1, 1, 1], scalars: [h0]),
            initialC: Tensor(shape: [1, 1, 1], scalars: [c0]), peepholes: Tensor(shape: [1, 3], scalars: p))
        let outputs = try Recurrent.run(
            inputs, parameters(.lstm, activations: [.sigmoid, .tanh, .tanh], clip: clip, inputForget: true), threads: 1)
        func clipped(_ value: Float) -> Float { min(max(value, -clip), clip) }
        let inputGate = sigmoid(clipped(x * w[0] + h0 * r[0] + p[0] * c0))
        let forgetGate = 1 - inputGate
        let candidate = tanh(clipped(x * w[3] + h0 * r[3]))
        let c1 = forgetGate * c0 + inputGate * candidate
        let outputGate = sigmoid(clipped(x * w[1] + h0 * r[1] + p[1] * c1))
        #expect(abs((outputs.lastC?.scalars(as: Float.self)[0] ?? .nan) - c1) < 1e-6)
        #expect(abs(outputs.lastH.scalars(as: Float.self)[0] - outputGate * tanh(c1)) < 1e-6)
    }

    @Test func sequenceLengthsFreezeStateAndZeroPaddedSteps() throws {
        var random = TestRandom(seed: 11)
        let inputs = Recurrent.Inputs(
            x: Tensor(shape: [4, 2, 3], scalars: random.floats(24)), w: Tensor(shape: [2, 8, 3], scalars: random.floats(48)),
            r: Tensor(shape: [2, 8, 2], scalars: random.floats(32)), bias: nil,
            sequenceLengths: Tensor(shape: [2], scalars: [Int32(4), 2]), initialH: nil, initialC: nil, peepholes: nil)
        var parameters = parameters(.lstm, activations: Array(repeating: [.sigmoid, .tanh, .tanh], count: 2).flatMap { $0 })
        parameters.hiddenSize = 2
        parameters.directions = 2
        let outputs = try Recurrent.run(inputs, parameters, threads: 2)
        let y = outputs.y.scalars(as: Float.self)  // [S=4, D=2, B=2, H=2]
        for step in 2..<4 {
            for direction in 0..<2 {
                let start = ((step * 2 + direction) * 2 + 1) * 2
                #expect(y[start..<(start + 2)].allSatisfy { $0 == 0 })
            }
        }
        // Batch entry 1: forward's last state is its step 1; reverse's is its step 0.
        let lastH = outputs.lastH.scalars(as: Float.self)  // [D, B, H]
        #expect(Array(lastH[2..<4]) == Array(y[((1 * 2 + 0) * 2 + 1) * 2..<((1 * 2 + 0) * 2 + 1) * 2 + 2]))
        #expect(Array(lastH[6..<8]) == Array(y[((0 * 2 + 1) * 2 + 1) * 2..<((0 * 2 + 1) * 2 + 1) * 2 + 2]))
    }

    /// One configuration of the native-vs-reference comparison.
    struct Case: Sendable, CustomTestStringConvertible {
        var cell: Recurrent.Cell
        var steps = 5, batch = 3, input = 7, hidden = 13
        var direction = "forward"
        var lengths: [Int32]? = nil
        var initialState = false
        var peepholes = false
        var clip: Float? = nil
        var inputForget = false
        var linearBeforeReset = false
        var batchMajor = false
        var bias = true
        /// Spread of X: large values saturate the gates.
        var scale: Float = 2

        var testDescription: String {
            "\(cell) S\(steps) B\(batch) I\(input) H\(hidden) \(direction) lens \(lengths.map { "\($0)" } ?? "-")"
                + (initialState ? " init" : "") + (peepholes ? " peep" : "") + (clip.map { " clip \($0)" } ?? "")
                + (inputForget ? " coupled" : "") + (linearBeforeReset ? " lbr" : "") + (batchMajor ? " layout1" : "")
                + (bias ? "" : " nobias") + (scale == 2 ? "" : " x\(scale)")
        }
    }

    static let nativeCases: [Case] = [
        Case(cell: .lstm),
        Case(cell: .lstm, steps: 10, batch: 2, input: 8, hidden: 16, direction: "bidirectional"),
        Case(cell: .lstm, batch: 1, hidden: 5, direction: "reverse", initialState: true),
        Case(cell: .lstm, steps: 6, batch: 6, input: 9, hidden: 37, direction: "bidirectional", lengths: [6, 2, 0, 5, 1, 3], initialState: true),
        Case(cell: .lstm, batch: 3, hidden: 20, direction: "bidirectional", lengths: [5, 3, 1], peepholes: true, clip: 0.75),
        Case(cell: .lstm, batch: 3, hidden: 11, initialState: true, peepholes: true, inputForget: true, batchMajor: true),
        Case(cell: .lstm, steps: 4, batch: 5, input: 3, hidden: 33, direction: "reverse", lengths: [4, 1, 3, 4, 2], clip: 0.5, batchMajor: true, bias: false),
        Case(cell: .lstm, steps: 3, batch: 8, input: 4, hidden: 24, direction: "bidirectional", lengths: [3, 3, 1, 2, 3, 0, 3, 2]),
        Case(cell: .lstm, steps: 4, batch: 2, input: 5, hidden: 19, direction: "bidirectional", peepholes: true, scale: 60),
        // Unidirectional with 8+ rows: two threads split the batch (time-major: a GEMM per row).
        Case(cell: .lstm, steps: 4, batch: 9, input: 6, hidden: 30, lengths: [4, 1, 3, 4, 2, 4, 0, 4, 3]),
        // Large hidden sizes: many panels, tails in each gate block.
        Case(cell: .lstm, steps: 3, batch: 2, input: 4, hidden: 197, lengths: [3, 2], peepholes: true),
        Case(cell: .gru),
        Case(cell: .gru, steps: 3, batch: 2, input: 4, hidden: 201, direction: "reverse", lengths: [2, 3]),
        Case(cell: .gru, steps: 4, batch: 9, input: 6, hidden: 30, direction: "reverse", lengths: [4, 1, 3, 4, 2, 4, 0, 4, 3], batchMajor: true),
        Case(cell: .gru, steps: 4, batch: 2, input: 5, hidden: 19, direction: "bidirectional", linearBeforeReset: true, scale: 60),
        Case(cell: .gru, steps: 3, batch: 8, input: 4, hidden: 24, direction: "bidirectional", lengths: [3, 3, 1, 2, 3, 0, 3, 2], linearBeforeReset: true),
        Case(cell: .gru, steps: 10, batch: 2, input: 8, hidden: 16, direction: "bidirectional"),
        Case(cell: .gru, batch: 1, hidden: 5, direction: "reverse", initialState: true, linearBeforeReset: true),
        Case(cell: .gru, steps: 6, batch: 6, input: 9, hidden: 37, direction: "bidirectional", lengths: [6, 2, 0, 5, 1, 3], initialState: true),
        Case(cell: .gru, batch: 3, hidden: 20, direction: "bidirectional", lengths: [5, 3, 1], clip: 0.75, linearBeforeReset: true),
        Case(cell: .gru, batch: 3, hidden: 11, initialState: true, linearBeforeReset: true, batchMajor: true),
        Case(cell: .gru, steps: 4, batch: 5, input: 3, hidden: 33, direction: "reverse", lengths: [4, 1, 3, 4, 2], clip: 0.5, batchMajor: true, bias: false),
    ]

    /// The native loop (`ckiln_lstm`/`ckiln_gru`) against the generic Swift loop, on every
    /// instruction set this CPU has, at 1 and 2 threads.
    @Test(arguments: nativeCases)
    func nativeLoopMatchesReference(_ config: Case) throws {
        var random = TestRandom(seed: UInt64(config.hidden * 131 + config.batch * 7 + config.steps))
        let directions = config.direction == "bidirectional" ? 2 : 1
        let gates = config.cell == .lstm ? 4 : 3
        let (s, b, i, h) = (config.steps, config.batch, config.input, config.hidden)
        let stateShape = config.batchMajor ? [b, directions, h] : [directions, b, h]
        let inputs = Recurrent.Inputs(
            x: Tensor(shape: config.batchMajor ? [b, s, i] : [s, b, i], scalars: random.floats(s * b * i).map { $0 * config.scale }),
            w: Tensor(shape: [directions, gates * h, i], scalars: random.floats(directions * gates * h * i)),
            r: Tensor(shape: [directions, gates * h, h], scalars: random.floats(directions * gates * h * h).map { $0 * 0.5 }),
            bias: config.bias ? Tensor(shape: [directions, 2 * gates * h], scalars: random.floats(directions * 2 * gates * h)) : nil,
            sequenceLengths: config.lengths.map { Tensor(shape: [b], scalars: $0) },
            initialH: config.initialState ? Tensor(shape: stateShape, scalars: random.floats(directions * b * h)) : nil,
            initialC: config.initialState && config.cell == .lstm ? Tensor(shape: stateShape, scalars: random.floats(directions * b * h)) : nil,
            peepholes: config.peepholes ? Tensor(shape: [directions, 3 * h], scalars: random.floats(directions * 3 * h)) : nil)
        let activations: [RecurrentActivation] = config.cell == .lstm ? [.sigmoid, .tanh, .tanh] : [.sigmoid, .tanh]
        let parameters = Recurrent.Parameters(
            cell: config.cell, hiddenSize: h, directions: directions, isReverse: config.direction == "reverse",
            activations: Array(Array(repeating: activations, count: directions).joined()), clip: config.clip,
            inputForget: config.inputForget, linearBeforeReset: config.linearBeforeReset, isBatchMajor: config.batchMajor)
        let reference = try Recurrent.run(inputs, parameters, threads: 1, native: false)
        // Weights viewing memory they do not own are packed per call, not kept.
        var viewed = inputs
        (viewed.w, viewed.r) = (Self.view(inputs.w), Self.view(inputs.r))
        for isa in [NativeKernels.ISA.portable, .avx2, .avx512] where isa <= NativeKernels.cpuISA {
            for (threads, operands) in [(1, inputs), (2, inputs), (1, viewed)] {
                let native = try NativeKernels.withISA(isa) { try Recurrent.run(operands, parameters, threads: threads) }
                let pairs = [("Y", native.y, reference.y), ("Y_h", native.lastH, reference.lastH)]
                    + (config.cell == .lstm ? [("Y_c", native.lastC!, reference.lastC!)] : [])
                for (name, actual, expected) in pairs {
                    #expect(actual.shape == expected.shape, "\(name) \(isa)")
                    let (a, e) = (actual.scalars(as: Float.self), expected.scalars(as: Float.self))
                    let worst = zip(a, e).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
                    #expect(worst <= 1e-5, "\(name) differs by \(worst) on \(isa) at \(threads) threads")
                }
            }
        }
    }

    /// Holds the tensor a view reads.
    private final class Owner {
        let tensor: Tensor
        init(_ tensor: Tensor) { self.tensor = tensor }
    }

    /// `tensor`'s values in a tensor that views memory it does not own.
    private static func view(_ tensor: Tensor) -> Tensor {
        let owner = Owner(tensor.ownedCopy())
        return Tensor(
            shape: tensor.shape, dtype: tensor.dtype, viewing: UnsafeMutableRawPointer(mutating: owner.tensor.baseAddress),
            byteCount: tensor.byteCount, owner: owner)
    }

    /// Weights packed on a first run are not reused once the tensor has been written (the
    /// write copies the storage the cache keeps).
    @Test func nativeLoopSeesRewrittenWeights() throws {
        var random = TestRandom(seed: 5)
        var inputs = Recurrent.Inputs(
            x: Tensor(shape: [3, 2, 4], scalars: random.floats(24)), w: Tensor(shape: [1, 12, 4], scalars: random.floats(48)),
            r: Tensor(shape: [1, 12, 4], scalars: random.floats(48)), bias: nil, sequenceLengths: nil, initialH: nil,
            initialC: nil, peepholes: nil)
        let parameters = Recurrent.Parameters(
            cell: .gru, hiddenSize: 4, directions: 1, isReverse: false, activations: [.sigmoid, .tanh], clip: nil,
            inputForget: false, linearBeforeReset: false, isBatchMajor: false)
        _ = try Recurrent.run(inputs, parameters, threads: 1)
        inputs.w.withUnsafeMutableBufferPointer(as: Float.self) { values in
            for index in values.indices { values[index] *= -2 }
        }
        inputs.r.withUnsafeMutableBufferPointer(as: Float.self) { values in
            for index in values.indices { values[index] += 0.5 }
        }
        let native = try Recurrent.run(inputs, parameters, threads: 1).lastH.scalars(as: Float.self)
        let reference = try Recurrent.run(inputs, parameters, threads: 1, native: false).lastH.scalars(as: Float.self)
        #expect(zip(native, reference).allSatisfy { abs($0 - $1) <= 1e-5 })
    }
}
