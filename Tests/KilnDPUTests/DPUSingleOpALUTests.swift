import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnQuant
import Testing

/// Randomized pooling, element-wise, one-operand and data-movement ops against scalar
/// references (see ``DPUSingleOpTests``).
@Suite struct DPUSingleOpALUTests {
    static let targets = DPUSingleOpTests.targets

    static func at(_ shape: [Int], _ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Int {
        DPUSingleOpTests.at(shape, n, c, y, x)
    }

    func check(_ h: DPUOpHarness, _ inputs: [String: [Int]], _ expected: [Int], _ label: String) throws {
        for target in Self.targets {
            let (_, outputs) = try h.run(inputs, target: target)
            let actual = try #require(outputs["y"])
            let bad = zip(actual, expected).filter { $0 != $1 }.count
            #expect(
                actual.count == expected.count && bad == 0, "\(label) on \(target): \(bad) of \(expected.count) differ")
        }
    }

    @Test(arguments: 0..<12)
    func pooling(_ seed: Int) throws {
        var h = DPUOpHarness(seed: UInt64(3000 + seed))
        var g = h.generator
        let isMax = seed % 2 == 0
        let isGlobal = seed % 6 == 5
        let (c, height, width) = (g.next(in: 1...19), g.next(in: 2...12), g.next(in: 2...12))
        let kernel = isGlobal ? [height, width] : [g.next(in: 1...min(3, height)), g.next(in: 1...min(3, width))]
        let strides = isGlobal ? [1, 1] : [g.next(in: 1...2), g.next(in: 1...2)]
        let pads =
            isGlobal ? [0, 0, 0, 0] : (0..<4).map { kernel[$0 % 2] > 1 ? g.next(in: 0...(kernel[$0 % 2] - 1)) : 0 }
        let px = g.next(in: 2...6)
        let py = isMax ? px : px + g.next(in: -1...1)
        h.generator = g
        let outH = (height + pads[0] + pads[2] - kernel[0]) / strides[0] + 1
        let outW = (width + pads[1] + pads[3] - kernel[1]) / strides[1] + 1
        let inShape = [1, c, height, width]
        let outShape = [1, c, outH, outW]
        let x = h.activation("x", inShape, position: px)
        let y = h.activation("y", outShape, position: py)
        if isGlobal {
            h.node("pool", .globalAveragePool, [x], [y])
        } else {
            var attributes: [String: AttributeValue] = [
                "kernel_shape": .ints(kernel), "strides": .ints(strides), "pads": .ints(pads),
            ]
            if !isMax { attributes["count_include_pad"] = .int(1) }
            h.node("pool", isMax ? .maxPool : .averagePool, [x], [y], attributes)
        }
        h.graph.inputs = [x]
        h.graph.outputs = [y]
        if !isMax {
            h.plan.layers = [
                LayerQuantization(name: "pool", kind: .averagePool, nodes: ["pool"], inputs: ["x"], output: "y")
            ]
        }
        let input = h.integers(inShape.reduce(1, *))
        var expected = [Int](repeating: 0, count: outShape.reduce(1, *))
        for ch in 0..<c {
            for oy in 0..<outH {
                for ox in 0..<outW {
                    var maximum = Int.min
                    var sum = 0
                    for ky in 0..<kernel[0] {
                        for kx in 0..<kernel[1] {
                            let (iy, ix) = (oy * strides[0] + ky - pads[0], ox * strides[1] + kx - pads[1])
                            guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                            let value = input[Self.at(inShape, 0, ch, iy, ix)]
                            maximum = max(maximum, value)
                            sum += value
                        }
                    }
                    expected[Self.at(outShape, 0, ch, oy, ox)] =
                        isMax
                        ? maximum
                        : FixedPoint.averagePool(
                            sum: Int64(sum), kernelHeight: kernel[0], kernelWidth: kernel[1], inputPosition: px,
                            outputPosition: py)
                }
            }
        }
        try check(h, ["x": input], expected, "pool seed \(seed)")
    }

    @Test(arguments: 0..<12)
    func elementwise(_ seed: Int) throws {
        var h = DPUOpHarness(seed: UInt64(4000 + seed))
        var g = h.generator
        let isAdd = seed % 3 != 2
        let activation: FixedPoint.Activation? = isAdd ? [nil, .relu, nil, .relu][seed % 4] : nil
        let (c, height, width) = (g.next(in: 1...9), g.next(in: 1...7), g.next(in: 1...8))
        let shape = [1, c, height, width]
        let broadcast = [shape, [1, c, 1, 1], [1, 1, height, width], [width], [c, 1, 1]][seed % 5]
        let (pa, pb) = (g.next(in: 1...7), g.next(in: 1...7))
        let py = isAdd ? min(pa, pb) + g.next(in: -2...1) : pa + pb - g.next(in: 4...9)
        let swap = seed % 2 == 1
        h.generator = g
        let a = h.activation("a", shape, position: pa)
        let b = h.activation("b", broadcast, position: pb)
        let y = h.activation("y", shape, position: py)
        if let activation {
            let mid = h.graph.addValue(Value(name: "sum", type: TensorType(dtype: .float32, shape: shape)))
            h.node("add", .add, swap ? [b, a] : [a, b], [mid])
            h.node("act", activation == .relu ? .relu : .relu6, [mid], [y])
        } else {
            h.node("op", isAdd ? .add : .mul, swap ? [b, a] : [a, b], [y])
        }
        h.graph.inputs = [a, b]
        h.graph.outputs = [y]
        h.plan.layers = [
            LayerQuantization(
                name: "op", kind: isAdd ? .add : .mul, nodes: activation == nil ? ["op"] : ["add", "act"],
                inputs: swap ? ["b", "a"] : ["a", "b"], output: "y", activation: activation)
        ]
        let av = h.integers(shape.reduce(1, *))
        let bv = h.integers(broadcast.reduce(1, *))
        // Broadcast index of b for each NCHW position.
        let extended = [Int](repeating: 1, count: 4 - broadcast.count) + broadcast
        let strides = (0..<4).map { axis in extended[axis] == 1 ? 0 : extended[(axis + 1)...].reduce(1, *) }
        var expected: [Int] = []
        for n in 0..<1 {
            for ch in 0..<c {
                for yy in 0..<height {
                    for xx in 0..<width {
                        let qa = Int64(av[Self.at(shape, n, ch, yy, xx)])
                        let qb = Int64(bv[ch * strides[1] + yy * strides[2] + xx * strides[3]])
                        let operands = swap ? [(qb, pb), (qa, pa)] : [(qa, pa), (qb, pb)]
                        expected.append(
                            isAdd
                                ? FixedPoint.add(
                                    operands.map { (value: $0.0, position: $0.1) }, activation: activation,
                                    outputPosition: py)
                                : FixedPoint.multiply((qa, pa), (qb, pb), outputPosition: py))
                    }
                }
            }
        }
        try check(h, ["a": av, "b": bv], expected, "elementwise seed \(seed)")
    }

    @Test(arguments: 0..<10)
    func unary(_ seed: Int) throws {
        var h = DPUOpHarness(seed: UInt64(5000 + seed))
        var g = h.generator
        let shape =
            seed % 2 == 0
            ? [1, g.next(in: 1...9), g.next(in: 1...6), g.next(in: 1...7)] : [g.next(in: 1...3), g.next(in: 1...40)]
        let kind = seed % 5
        let px = g.next(in: 0...8)
        let py: Int
        switch kind {
        case 3: py = g.next(in: 7...(14 + px))
        case 4: py = px + 7 - g.next(in: 0...9)
        case 1: py = max(4, px + g.next(in: -2...2))
        default: py = px + g.next(in: -3...3)
        }
        h.generator = g
        let x = h.activation("x", shape, position: px)
        let y = h.activation("y", shape, position: py)
        let op: OpKind = [.relu, .relu6, .leakyRelu, .hardSigmoid, .hardSwish][kind]
        let attributes: [String: AttributeValue] = kind == 3 ? ["alpha": .float(1.0 / 6), "beta": .float(0.5)] : [:]
        h.node("u", op, [x], [y], attributes)
        h.graph.inputs = [x]
        h.graph.outputs = [y]
        let activation: FixedPoint.Activation? = kind < 3 ? [.relu, .relu6, .leakyRelu][kind] : nil
        h.plan.layers = [
            LayerQuantization(
                name: "u", kind: kind == 3 ? .hardSigmoid : kind == 4 ? .hardSwish : .activation, nodes: ["u"],
                inputs: ["x"],
                output: "y", activation: activation)
        ]
        let input = h.integers(shape.reduce(1, *))
        let expected = input.map { value -> Int in
            switch kind {
            case 3: return FixedPoint.hardSigmoid(Int64(value), inputPosition: px, outputPosition: py)
            case 4: return FixedPoint.hardSwish(Int64(value), inputPosition: px, outputPosition: py)
            default:
                return FixedPoint.requantize(Int64(value), shift: px - py, activation: activation, outputPosition: py)
            }
        }
        try check(h, ["x": input], expected, "unary seed \(seed)")
    }

    @Test(arguments: 0..<6)
    func dataMovement(_ seed: Int) throws {
        var h = DPUOpHarness(seed: UInt64(6000 + seed))
        var g = h.generator
        let (c, height, width) = (g.next(in: 1...7), g.next(in: 1...6), g.next(in: 1...7))
        h.generator = g
        let shape = [1, c, height, width]
        let p = 5
        let x = h.activation("x", shape, position: p)
        let input = h.integers(shape.reduce(1, *))
        var expected: [Int] = []
        var inputs = ["x": input]
        switch seed {
        case 0:  // concat along channels with a second input
            let c2 = 3
            let x2 = h.activation("x2", [1, c2, height, width], position: p)
            let y = h.activation("y", [1, c + c2, height, width], position: p)
            h.node("cat", .concat, [x, x2], [y], ["axis": .int(1)])
            h.graph.inputs = [x, x2]
            h.graph.outputs = [y]
            let second = h.integers(c2 * height * width)
            inputs["x2"] = second
            expected = input + second
        case 1:  // flatten
            let y = h.activation("y", [1, c * height * width], position: p)
            h.node("flat", .flatten, [x], [y], ["axis": .int(1)])
            h.graph.inputs = [x]
            h.graph.outputs = [y]
            expected = input
        case 2:  // transpose NCHW → NHWC
            let y = h.activation("y", [1, height, width, c], position: p)
            h.node("t", .transpose, [x], [y], ["perm": .ints([0, 2, 3, 1])])
            h.graph.inputs = [x]
            h.graph.outputs = [y]
            for yy in 0..<height {
                for xx in 0..<width { for ch in 0..<c { expected.append(input[Self.at(shape, 0, ch, yy, xx)]) } }
            }
        case 3:  // concat along width
            let y = h.activation("y", [1, c, height, 2 * width], position: p)
            h.node("cat", .concat, [x, x], [y], ["axis": .int(3)])
            h.graph.inputs = [x]
            h.graph.outputs = [y]
            for ch in 0..<c {
                for yy in 0..<height {
                    for _ in 0..<2 { for xx in 0..<width { expected.append(input[Self.at(shape, 0, ch, yy, xx)]) } }
                }
            }
        case 4:  // nearest resize ×2
            let scales = h.floats("scales", [1, 1, 2, 2])
            let y = h.activation("y", [1, c, 2 * height, 2 * width], position: p)
            h.node("up", .resize, [x, nil, scales], [y], ["mode": .string("nearest")])
            h.graph.inputs = [x]
            h.graph.outputs = [y]
            for ch in 0..<c {
                for yy in 0..<(2 * height) {
                    for xx in 0..<(2 * width) { expected.append(input[Self.at(shape, 0, ch, yy / 2, xx / 2)]) }
                }
            }
        default:  // slice channels 0..<ceil(c/2), odd rows
            let half = (c + 1) / 2
            let rows = (height + 1) / 2
            let starts = h.indices("starts", [0, 0])
            let ends = h.indices("ends", [half, height])
            let axes = h.indices("axes", [1, 2])
            let steps = h.indices("steps", [1, 2])
            let y = h.activation("y", [1, half, rows, width], position: p)
            h.node("s", .slice, [x, starts, ends, axes, steps], [y])
            h.graph.inputs = [x]
            h.graph.outputs = [y]
            for ch in 0..<half {
                for r in 0..<rows { for xx in 0..<width { expected.append(input[Self.at(shape, 0, ch, 2 * r, xx)]) } }
            }
        }
        try check(h, inputs, expected, "data movement case \(seed)")
    }
}
