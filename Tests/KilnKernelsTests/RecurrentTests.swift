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
}
