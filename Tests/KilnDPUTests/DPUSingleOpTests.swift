import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnQuant
import Testing

/// Randomized single ops: each op type × activation × odd shapes × stride / pad / dilation /
/// group combinations, compiled for a small and a large DPU (different tilings), emulator
/// against a scalar reference written here (integer loops, `FixedPoint` only for the output
/// stage).
@Suite struct DPUSingleOpTests {
    static let targets = ["DPUCZDX8G_ISA1_B512", "DPUCZDX8G_ISA1_B4096", "DPUCVDX8G_ISA3_C32B6"]
    static let activations: [FixedPoint.Activation?] = [nil, .relu, .relu6, .leakyRelu]

    /// NCHW index.
    static func at(_ shape: [Int], _ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Int {
        ((n * shape[1] + c) * shape[2] + y) * shape[3] + x
    }

    // MARK: Convolution

    @Test(arguments: 0..<24)
    func convolution(_ seed: Int) throws {
        var h = DPUOpHarness(seed: UInt64(1000 + seed))
        var g = h.generator
        let depthwise = seed % 3 == 2
        let transposed = seed % 6 == 1
        let cin = depthwise ? g.next(in: 1...13) : g.next(in: 1...19)
        let multiplier = depthwise ? g.pick([1, 2]) : 1
        let cout = depthwise ? cin * multiplier : g.next(in: 1...21)
        let (height, width) = (g.next(in: 3...11), g.next(in: 2...13))
        let (kh, kw) = (g.next(in: 1...3), g.next(in: 1...4))
        let strides = [g.next(in: 1...2), g.next(in: 1...3)]
        let dilations = transposed ? [1, 1] : [g.next(in: 1...2), g.next(in: 1...2)]
        let pads = (0..<4).map { axis in g.next(in: 0...(transposed ? (axis % 2 == 0 ? kh - 1 : kw - 1) : 2)) }
        let activation = Self.activations[seed % 4]
        let hasBias = seed % 5 != 3
        let (px, pw) = (g.next(in: 2...6), g.next(in: 4...8))
        let shiftCut = g.next(in: 3...10)
        let py = max(activation == .relu6 ? 4 : -2, px + pw - shiftCut)
        let pb = px + pw - g.next(in: 0...6)
        h.generator = g
        let outH: Int
        let outW: Int
        if transposed {
            outH = (height - 1) * strides[0] - pads[0] - pads[2] + kh
            outW = (width - 1) * strides[1] - pads[1] - pads[3] + kw
        } else {
            outH = (height + pads[0] + pads[2] - (kh - 1) * dilations[0] - 1) / strides[0] + 1
            outW = (width + pads[1] + pads[3] - (kw - 1) * dilations[1] - 1) / strides[1] + 1
        }
        guard outH > 0, outW > 0 else { return }
        let inShape = [1, cin, height, width]
        let outShape = [1, cout, outH, outW]
        let weightShape = transposed ? [cin, cout, kh, kw] : [cout, depthwise ? 1 : cin, kh, kw]
        let x = h.activation("x", inShape, position: px)
        let wValues = h.integers(weightShape.reduce(1, *))
        let bValues = h.integers(cout)
        let w = h.constant("w", weightShape, wValues, position: pw)
        let b = hasBias ? h.constant("b", [cout], bValues, position: pb) : nil
        let convOut =
            activation == nil
            ? h.activation("y", outShape, position: py)
            : h.graph.addValue(Value(name: "conv_out", type: TensorType(dtype: .float32, shape: outShape)))
        var attributes: [String: AttributeValue] = [
            "kernel_shape": .ints([kh, kw]), "strides": .ints(strides), "pads": .ints(pads),
        ]
        if !transposed { attributes["dilations"] = .ints(dilations) }
        if depthwise { attributes["group"] = .int(cin) }
        h.node("conv", transposed ? .convTranspose : .conv, [x, w] + (b.map { [$0] } ?? []), [convOut], attributes)
        var nodes = ["conv"]
        var output = convOut
        if let activation {
            output = h.activation("y", outShape, position: py)
            let op: OpKind = activation == .relu ? .relu : activation == .relu6 ? .relu6 : .leakyRelu
            h.node("act", op, [convOut], [output], activation == .leakyRelu ? ["alpha": .float(26.0 / 256)] : [:])
            nodes.append("act")
        }
        h.graph.inputs = [x]
        h.graph.outputs = [output]
        h.plan.layers = [
            LayerQuantization(
                name: "conv", kind: .conv, nodes: nodes, inputs: ["x"], weight: "w", bias: hasBias ? "b" : nil,
                output: "y",
                activation: activation)
        ]
        let input = h.integers(inShape.reduce(1, *))
        // The scalar reference.
        var accumulators = [Int64](repeating: 0, count: outShape.reduce(1, *))
        for oc in 0..<cout {
            for oy in 0..<outH {
                for ox in 0..<outW {
                    var sum: Int64 = 0
                    if transposed {
                        for ci in 0..<cin {
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let ny = oy + pads[0] - ky
                                    let nx = ox + pads[1] - kx
                                    guard ny >= 0, nx >= 0, ny % strides[0] == 0, nx % strides[1] == 0 else { continue }
                                    let (iy, ix) = (ny / strides[0], nx / strides[1])
                                    guard iy < height, ix < width else { continue }
                                    sum +=
                                        Int64(input[Self.at(inShape, 0, ci, iy, ix)])
                                        * Int64(wValues[((ci * cout + oc) * kh + ky) * kw + kx])
                                }
                            }
                        }
                    } else {
                        let channels = depthwise ? [oc / multiplier] : Array(0..<cin)
                        for (index, ci) in channels.enumerated() {
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let iy = oy * strides[0] + ky * dilations[0] - pads[0]
                                    let ix = ox * strides[1] + kx * dilations[1] - pads[1]
                                    guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                                    let wi =
                                        depthwise ? (oc * kh + ky) * kw + kx : ((oc * cin + index) * kh + ky) * kw + kx
                                    sum += Int64(input[Self.at(inShape, 0, ci, iy, ix)]) * Int64(wValues[wi])
                                }
                            }
                        }
                    }
                    accumulators[Self.at(outShape, 0, oc, oy, ox)] = sum
                }
            }
        }
        let expected = accumulators.enumerated().map { index, sum in
            let oc = (index / (outH * outW)) % cout
            return FixedPoint.convolution(
                accumulator: sum, bias: hasBias ? Int64(bValues[oc]) : nil, shiftBias: px + pw - pb,
                shiftCut: px + pw - py, activation: activation, outputPosition: py)
        }
        for target in Self.targets {
            let (_, outputs) = try h.run(["x": input], target: target)
            let actual = try #require(outputs["y"])
            let bad = zip(actual, expected).filter { $0 != $1 }.count
            #expect(bad == 0, "conv seed \(seed) on \(target): \(bad) of \(expected.count) differ")
        }
    }

    // MARK: Fully connected

    @Test(arguments: 0..<6)
    func fullyConnected(_ seed: Int) throws {
        var h = DPUOpHarness(seed: UInt64(2000 + seed))
        var g = h.generator
        let (n, k, m) = (g.next(in: 1...3), g.next(in: 1...70), g.next(in: 1...37))
        let transB = seed % 2 == 1
        let activation = Self.activations[seed % 4]
        h.generator = g
        let (px, pw, py, pb) = (5, 7, 6, 8)
        let x = h.activation("x", [n, k], position: px)
        let wValues = h.integers(k * m)
        let bValues = h.integers(m)
        let w = h.constant("w", transB ? [m, k] : [k, m], wValues, position: pw)
        let b = h.constant("b", [m], bValues, position: pb)
        let mid =
            activation == nil
            ? h.activation("y", [n, m], position: py)
            : h.graph.addValue(Value(name: "fc", type: TensorType(dtype: .float32, shape: [n, m])))
        h.node("fc", .gemm, [x, w, b], [mid], ["transB": .int(transB ? 1 : 0)])
        var output = mid
        var nodes = ["fc"]
        if let activation {
            output = h.activation("y", [n, m], position: py)
            h.node("act", activation == .relu ? .relu : activation == .relu6 ? .relu6 : .leakyRelu, [mid], [output])
            nodes.append("act")
        }
        h.graph.inputs = [x]
        h.graph.outputs = [output]
        h.plan.layers = [
            LayerQuantization(
                name: "fc", kind: .gemm, nodes: nodes, inputs: ["x"], weight: "w", bias: "b", output: "y",
                activation: activation)
        ]
        let input = h.integers(n * k)
        var expected: [Int] = []
        for row in 0..<n {
            for column in 0..<m {
                var sum: Int64 = 0
                for p in 0..<k {
                    sum += Int64(input[row * k + p]) * Int64(transB ? wValues[column * k + p] : wValues[p * m + column])
                }
                expected.append(
                    FixedPoint.convolution(
                        accumulator: sum, bias: Int64(bValues[column]), shiftBias: px + pw - pb, shiftCut: px + pw - py,
                        activation: activation, outputPosition: py))
            }
        }
        for target in Self.targets {
            let (_, outputs) = try h.run(["x": input], target: target)
            #expect(outputs["y"] == expected, "gemm seed \(seed) on \(target)")
        }
    }

    /// MatMul with a constant `K × N` weight over rank-3 activations (a fully connected layer
    /// per row), as the plan would give it once the quantizer lowers it as `gemm`.
    @Test(arguments: 0..<3)
    func matMulWithConstantWeight(_ seed: Int) throws {
        var h = DPUOpHarness(seed: UInt64(2500 + seed))
        var g = h.generator
        let (batch, rows, k, m) = (g.next(in: 1...2), g.next(in: 1...9), g.next(in: 1...40), g.next(in: 1...19))
        h.generator = g
        let (px, pw, py) = (4, 7, 5)
        let x = h.activation("x", [batch, rows, k], position: px)
        let wValues = h.integers(k * m)
        let w = h.constant("w", [k, m], wValues, position: pw)
        let y = h.activation("y", [batch, rows, m], position: py)
        h.node("mm", .matMul, [x, w], [y])
        h.graph.inputs = [x]
        h.graph.outputs = [y]
        h.plan.layers = [
            LayerQuantization(name: "mm", kind: .gemm, nodes: ["mm"], inputs: ["x"], weight: "w", output: "y")
        ]
        let input = h.integers(batch * rows * k)
        var expected: [Int] = []
        for row in 0..<(batch * rows) {
            for column in 0..<m {
                var sum: Int64 = 0
                for p in 0..<k { sum += Int64(input[row * k + p]) * Int64(wValues[p * m + column]) }
                expected.append(
                    FixedPoint.convolution(
                        accumulator: sum, bias: nil, shiftBias: 0, shiftCut: px + pw - py, activation: nil,
                        outputPosition: py))
            }
        }
        for target in Self.targets {
            let (_, outputs) = try h.run(["x": input], target: target)
            #expect(outputs["y"] == expected, "matmul seed \(seed) on \(target)")
        }
    }
}
