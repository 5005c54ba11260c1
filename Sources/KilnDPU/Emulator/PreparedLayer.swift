import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels

/// Per-layer state prepared once: lookup tables of the element-wise output stages (every
/// int8 operand pair or value, computed with `FixedPoint`) and data-movement interpreters.
struct PreparedLayer: Sendable {
    /// `table[(a + 128) · 256 + (b + 128)]` (two operands) or `table[a + 128]` (one).
    var table: [Int8] = []
    /// An element-wise add's output stage in arithmetic form (vectorizable), when it equals
    /// the table on every operand pair.
    var addStage: AddStage?
    /// The interpreter of a remap layer and the name of its output.
    var remap: (interpreter: Interpreter, output: String, input: [String])?
    /// A convolution's packed weights (OCP blocks, as in the program).
    var weights: [Int8] = []
    /// The same weights as one row-major `gemmK × gemmColumns` matrix (column = output
    /// channel), without the rows of padded input channels (their inputs are zero), so row
    /// `tap · inputChannels + ci`.
    var gemmWeights: [Int8] = []
    /// Rows of ``gemmWeights``: `kh · kw · inputChannels`.
    var gemmK = 0
    /// Columns of ``gemmWeights`` (output channels rounded up to OCP).
    var gemmColumns = 0
    /// A convolution's int8 biases, widened.
    var bias: [Int64]?
    /// A convolution's weights packed for the native GEMM once, per channel tile of the
    /// program (keyed by the tile's first channel).
    var packed: [Int: NativeInt8GEMM.PackedB] = [:]
    /// A depthwise convolution's weights as `taps × outputChannels` (row = window tap).
    var depthwiseWeights: [Int16] = []
    /// A convolution's output stage, constants hoisted.
    var stage: ConvOutputStage?
    /// An average pool's output stage.
    var poolStage: ConvOutputStage?

    init(_ layer: DPULayer, _ program: DPUProgram, channelTiles: Set<Range<Int>>) throws {
        switch layer.operation {
        case .elementwise(let op):
            let (pa, pb) = (op.inputPositions[0], op.inputPositions[1])
            table = [Int8](repeating: 0, count: 65_536)
            for a in -128...127 {
                for b in -128...127 {
                    let value =
                        op.isAdd
                        ? FixedPoint.add(
                            [(Int64(a), pa), (Int64(b), pb)], activation: op.activation,
                            outputPosition: op.outputPosition)
                        : FixedPoint.multiply((Int64(a), pa), (Int64(b), pb), outputPosition: op.outputPosition)
                    table[(a + 128) * 256 + (b + 128)] = Int8(value)
                }
            }
            if op.isAdd { addStage = AddStage(op, table: table) }
        case .unary(let op):
            table = (-128...127).map { value in
                let x = Int64(value)
                switch op.function {
                case .hardSigmoid:
                    return Int8(
                        FixedPoint.hardSigmoid(x, inputPosition: op.inputPosition, outputPosition: op.outputPosition))
                case .hardSwish:
                    return Int8(
                        FixedPoint.hardSwish(x, inputPosition: op.inputPosition, outputPosition: op.outputPosition))
                case .activation:
                    return Int8(
                        FixedPoint.requantize(
                            x, shift: op.inputPosition - op.outputPosition, activation: op.activation,
                            outputPosition: op.outputPosition))
                }
            }
        case .conv(let conv):
            weights = Array(program.blob[conv.weights.offset..<(conv.weights.offset + conv.weights.count)])
            bias = conv.bias.map { range in program.blob[range.offset..<(range.offset + range.count)].map { Int64($0) }
            }
            stage = ConvOutputStage(
                channels: conv.outputChannels, bias: bias, shiftBias: conv.shiftBias, shiftCut: conv.shiftCut,
                activation: conv.activation, outputPosition: conv.outputPosition,
                accumulatorBound: (conv.isDepthwise ? conv.kernel.reduce(1, *) : conv.reduction) << 14)
            let ocp = program.geometry.outputChannelParallelism
            let k = conv.reduction
            guard !conv.isDepthwise else {
                let count = conv.outputChannels
                depthwiseWeights = [Int16](repeating: 0, count: k * count)
                for tap in 0..<k {
                    for oc in 0..<count {
                        let index = ((oc / ocp) * k + tap) * ocp + oc % ocp
                        if weights.indices.contains(index) { depthwiseWeights[tap * count + oc] = Int16(weights[index]) }
                    }
                }
                break
            }
            let blocks = ceilDiv(conv.outputChannels, ocp)
            gemmColumns = blocks * ocp
            let (taps, channels, padded) = (conv.kernel.reduce(1, *), conv.inputChannels, conv.paddedInputChannels)
            guard channels <= padded, taps * padded == k, weights.count >= blocks * k * ocp else {
                throw KilnError(.dpuProgramMalformed, "layer '\(layer.name)': the weight blocks do not match the kernel")
            }
            gemmK = taps * channels
            gemmWeights = [Int8](repeating: 0, count: gemmK * gemmColumns)
            for block in 0..<blocks {
                for tap in 0..<taps {
                    for ci in 0..<channels {
                        let (row, source) = (tap * channels + ci, block * k + tap * padded + ci)
                        for lane in 0..<ocp {
                            gemmWeights[row * gemmColumns + block * ocp + lane] = weights[source * ocp + lane]
                        }
                    }
                }
            }
            gemmWeights.withUnsafeBufferPointer { g in
                guard let base = g.baseAddress else { return }
                for tile in channelTiles where !tile.isEmpty && tile.upperBound <= gemmColumns {
                    packed[tile.lowerBound] = NativeInt8GEMM.PackedB(
                        k: gemmK, n: tile.count, b: base + tile.lowerBound, ldb: gemmColumns)
                }
            }
        case .pool(let pool) where !pool.isMax:
            poolStage = ConvOutputStage(
                averagePoolKernel: (pool.kernel[0], pool.kernel[1]), inputPosition: pool.inputPosition,
                outputPosition: pool.outputPosition)
        case .remap(let remap):
            var constants: [String: Tensor] = [:]
            for (symbol, constant) in remap.constants {
                guard let dtype = DType(rawValue: constant.dtype), constant.shape.allSatisfy({ $0 >= 0 }),
                    constant.shape.reduce(1, *) == constant.values.count
                else {
                    throw KilnError(.dpuProgramMalformed, "layer '\(layer.name)': constant '\(symbol)' is malformed")
                }
                switch dtype {
                case .float32:
                    constants[symbol] = Tensor(shape: constant.shape, scalars: constant.values.map { Float($0) })
                case .float64: constants[symbol] = Tensor(shape: constant.shape, scalars: constant.values)
                case .int64:
                    constants[symbol] = Tensor(
                        shape: constant.shape, scalars: constant.values.map { Int64(clamping: Int($0.clamped)) })
                case .int32:
                    constants[symbol] = Tensor(
                        shape: constant.shape, scalars: constant.values.map { Int32(clamping: Int($0.clamped)) })
                default:
                    throw KilnError(
                        .dpuProgramMalformed, "layer '\(layer.name)': constant '\(symbol)' has type \(dtype)")
                }
            }
            do {
                let document = try JSONDecoder().decode(GraphDocument.self, from: Data(remap.graph.utf8))
                let graph = try Graph(document: document, constants: constants)
                try Verifier.verify(graph)
                guard graph.outputs.indices.contains(remap.output), graph.inputs.count == layer.inputs.count else {
                    throw KilnError(
                        .dpuProgramMalformed, "layer '\(layer.name)': the remap graph does not match the layer")
                }
                self.remap = (
                    try Interpreter(graph: graph), graph[graph.outputs[remap.output]].name,
                    graph.inputs.map { graph[$0].name }
                )
            } catch let error as KilnError where error.code == .dpuProgramMalformed {
                throw error
            } catch {
                throw KilnError(
                    .dpuProgramMalformed, "layer '\(layer.name)': the remap graph does not decode (\(error))")
            }
        default:
            break
        }
    }
}


/// An element-wise add as integer arithmetic: `clamp((a·2^da + b·2^db + 2^(s−1)) >> s, lower,
/// upper)` — `FixedPoint.add` for no activation, ReLU and ReLU6 with a right shift `s ≥ 1`
/// (the same rounding and clamp argument as ``ConvOutputStage``), or `s = 0` without the
/// rounding term, a left shift folded into `da` and `db`. Built only after checking
/// it against the `FixedPoint` table on all 65,536 operand pairs; the emulator runs it in
/// native code (`NativeInt8NHWC.add`), the same arithmetic.
struct AddStage: Sendable {
    let shiftA: Int32
    let shiftB: Int32
    let half: Int32
    let shift: Int32
    let lower: Int32
    let upper: Int32

    init?(_ op: DPUElementwise, table: [Int8]) {
        let (pa, pb) = (op.inputPositions[0], op.inputPositions[1])
        let finest = max(pa, pb)
        // A left shift (output finer than the inputs) moves into the operands' shifts.
        let shift = max(0, finest - op.outputPosition)
        let left = max(0, op.outputPosition - finest)
        guard shift <= 20, (0...16).contains(finest - pa + left), (0...16).contains(finest - pb + left) else { return nil }
        switch op.activation {
        case nil: (lower, upper) = (-128, 127)
        case .relu: (lower, upper) = (0, 127)
        case .relu6: (lower, upper) = (0, op.outputPosition <= 4 ? 96 : 127)
        case .leakyRelu: return nil
        }
        (shiftA, shiftB, self.shift) = (Int32(finest - pa + left), Int32(finest - pb + left), Int32(shift))
        half = shift > 0 ? Int32(1) << Int32(shift - 1) : 0
        for a in Int32(-128)...127 {
            for b in Int32(-128)...127 where self.apply(a, b) != table[Int((a + 128) * 256 + (b + 128))] {
                return nil
            }
        }
    }

    /// The sum of one operand pair.
    @inline(__always)
    func apply(_ a: Int32, _ b: Int32) -> Int8 {
        let rounded = ((a &<< shiftA) &+ (b &<< shiftB) &+ half) &>> shift
        return Int8(truncatingIfNeeded: min(max(rounded, lower), upper))
    }
}
