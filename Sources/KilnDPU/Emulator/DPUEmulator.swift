import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels
import KilnTargets

/// Runs a ``DPUProgram`` with the DPU's integer arithmetic, instruction by instruction and
/// tile by tile: int8 feature maps, int32 accumulators (the native exact int8 GEMM of
/// `KilnKernels`, weights packed once here at load), and the output stages of `FixedPoint`
/// (hoisted into ``ConvOutputStage`` / ``AddStage`` forms tested equal to them) — the same
/// functions the quantizer's fake-quant simulation calls, so the two agree bit for bit.
///
/// Tensors cross the API in the graph's layout (`N×C×H×W` for rank 4): ``run(_:)`` takes and
/// returns int8 tensors holding the integers; ``runDequantized(_:)`` takes floats,
/// quantizes them with each input's fix position and round mode, and returns the outputs'
/// real values (`q · 2^-p`), as the CPU graph passes them across a `dpu_subgraph` node.
///
/// ```swift
/// let program = try DPUCompiler.compile(subgraph: body, plan: plan, architecture: arch)
/// let emulator = try DPUEmulator(program: program, architecture: arch, threads: 2)
/// let outputs = try emulator.runDequantized(["input": x])
/// ```
public struct DPUEmulator: Sendable {
    /// The program.
    public let program: DPUProgram
    /// Threads the engines split each tile over.
    public var threads: Int
    /// Per layer: its prepared tables and interpreters.
    let prepared: [PreparedLayer]

    /// Prepares `program` (checked with ``DPUProgram/validate()``).
    ///
    /// - Throws: `dpuProgramMalformed`.
    public init(program: DPUProgram, threads: Int = 1) throws {
        try program.validate()
        self.program = program
        self.threads = max(1, threads)
        prepared = try program.layers.enumerated().map { index, layer in
            try PreparedLayer(layer, program, channelTiles: Set(program.instructions.lazy.filter { $0.layer == index && $0.opcode == .conv }.map(\.channels)))
        }
    }

    /// Prepares `program` for `architecture`.
    ///
    /// - Throws: `dpuTargetMismatch` when the program was compiled for another
    ///   configuration (recompile it), `dpuProgramMalformed`.
    public init(program: DPUProgram, architecture: DPUArchitecture, threads: Int = 1) throws {
        try program.check(for: architecture)
        try self.init(program: program, threads: threads)
    }

    /// Runs the program on int8 inputs in the graph's layout, by value name.
    ///
    /// - Returns: the outputs, int8 in the graph's layout, by value name.
    /// - Throws: `missingInput`, `inputDTypeMismatch`, `inputShapeMismatch`; `invalidArgument`
    ///   when a data-movement op produces an unexpected shape.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        let memory = try execute(inputs)
        var outputs: [String: Tensor] = [:]
        for index in program.outputs {
            let buffer = program.buffers[index]
            outputs[buffer.name] = Tensor(shape: buffer.shape, scalars: memory.logical(index))
        }
        return outputs
    }

    /// Runs the program and returns every feature map it holds — inputs, intermediates and
    /// outputs, not constants — int8 in the graph's layout, by value name (a dump for
    /// comparing layer by layer against the fake-quant simulation; fix positions are the
    /// buffers' in ``DPUProgram/buffers``).
    public func dump(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        let memory = try execute(inputs)
        var values: [String: Tensor] = [:]
        for (index, buffer) in program.buffers.enumerated() where buffer.constant == nil {
            values[buffer.name] = Tensor(shape: buffer.shape, scalars: memory.logical(index))
        }
        return values
    }

    /// Runs the program once and returns the time spent per kind of instruction (opcode, and
    /// the layer's operation for ELEW/MISC), for profiling the emulator.
    public func profile(_ inputs: [String: Tensor]) throws -> [String: Duration] {
        var times: [String: Duration] = [:]
        _ = try execute(inputs) { instruction, time in
            let layer = program.layers[instruction.layer]
            let kind: String
            switch layer.operation {
            case .conv(let conv): kind = conv.isDepthwise ? "dwconv" : "conv \(conv.kernel[0])x\(conv.kernel[1])"
            case .pool(let pool): kind = pool.isMax ? "maxpool" : "avgpool"
            case .elementwise: kind = "eltwise"
            case .unary: kind = "unary"
            case .copy, .transpose, .concat, .remap: kind = "move"
            }
            times["\(instruction.opcode.rawValue) \(kind)", default: .zero] += time
        }
        return times
    }

    /// Binds the inputs and runs every instruction (timing each with `profile`, if given).
    func execute(
        _ inputs: [String: Tensor], profile: ((DPUInstruction, Duration) -> Void)? = nil
    ) throws -> FeatureMemory {
        var memory = FeatureMemory(program)
        for index in program.inputs {
            let buffer = program.buffers[index]
            guard let tensor = inputs[buffer.name] else {
                throw KilnError(.missingInput, "DPU program '\(program.name)': input '\(buffer.name)' was not provided")
            }
            guard tensor.dtype == .int8 else {
                throw KilnError(.inputDTypeMismatch, "DPU input '\(buffer.name)' is \(tensor.dtype), expected int8")
            }
            guard tensor.shape == buffer.shape else {
                throw KilnError(
                    .inputShapeMismatch,
                    "DPU input '\(buffer.name)' has shape \(tensor.shape), expected \(buffer.shape)")
            }
            memory.store(logical: tensor.scalars(as: Int8.self), into: index)
        }
        if let profile {
            for instruction in program.instructions {
                let start = ContinuousClock.now
                try execute(instruction, &memory)
                profile(instruction, ContinuousClock.now - start)
            }
            return memory
        }
        for instruction in program.instructions {
            try execute(instruction, &memory)
        }
        return memory
    }

    /// Runs the program on float inputs: each is quantized with its buffer's fix position and
    /// round mode; the outputs are dequantized (`q · 2^-p`, float32).
    public func runDequantized(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        var quantized: [String: Tensor] = [:]
        for index in program.inputs {
            let buffer = program.buffers[index]
            guard let tensor = inputs[buffer.name] else { continue }
            let values: [Int8]
            if tensor.dtype == .float32 {
                let isa = NativeKernels.activeISA
                values = [Int8](unsafeUninitializedCapacity: tensor.count) { out, initialized in
                    tensor.withUnsafeBufferPointer(as: Float.self) { x in
                        guard let out = out.baseAddress else { return }
                        NativeInt8NHWC.quantize(
                            isa: isa, x, fixPosition: buffer.fixPosition, mode: buffer.roundMode, into: out)
                    }
                    initialized = tensor.count
                }
            } else {
                values = tensor.doubleScalars().map {
                    Int8(FixedPoint.quantize(Float($0), fixPosition: buffer.fixPosition, mode: buffer.roundMode))
                }
            }
            quantized[buffer.name] = Tensor(shape: tensor.shape, scalars: values)
        }
        let outputs = try run(quantized)
        var result: [String: Tensor] = [:]
        for index in program.outputs {
            let buffer = program.buffers[index]
            guard let tensor = outputs[buffer.name] else { continue }
            let scale = exp2f(Float(-buffer.fixPosition))
            result[buffer.name] = Tensor(
                shape: tensor.shape, scalars: tensor.scalars(as: Int8.self).map { Float($0) * scale })
        }
        return result
    }

    /// The named `runDequantized` with positional tensors: one per program input
    /// (the `dpu_subgraph` node's inputs, in order), one per output — the shape of a runtime
    /// subgraph call.
    ///
    /// - Throws: `invalidArgument` for a wrong number of inputs; what ``run(_:)`` throws.
    public func runDequantized(_ inputs: [Tensor]) throws -> [Tensor] {
        guard inputs.count == program.inputs.count else {
            throw KilnError(
                .invalidArgument,
                "DPU program '\(program.name)' takes \(program.inputs.count) inputs, got \(inputs.count)")
        }
        var named: [String: Tensor] = [:]
        for (index, tensor) in zip(program.inputs, inputs) { named[program.buffers[index].name] = tensor }
        let outputs = try runDequantized(named)
        return try program.outputs.map { index in
            guard let tensor = outputs[program.buffers[index].name] else {
                throw KilnError(.invalidArgument, "DPU program '\(program.name)' computed no '\(program.buffers[index].name)'")
            }
            return tensor
        }
    }

    /// One instruction. LOAD and SAVE check their ranges (the emulator's feature maps live
    /// in one memory, so they move no bytes); compute instructions run their tile.
    func execute(_ instruction: DPUInstruction, _ memory: inout FeatureMemory) throws {
        let layer = program.layers[instruction.layer]
        switch instruction.opcode {
        case .load, .save:
            return
        case .conv, .dwconv:
            guard case .conv(let conv) = layer.operation else { return }
            memory.convolution(
                conv, layer: layer, prepared[instruction.layer], rows: instruction.rows, channels: instruction.channels,
                program: program, threads: threads)
        case .pool:
            guard case .pool(let pool) = layer.operation else { return }
            memory.pooling(pool, layer: layer, prepared[instruction.layer], rows: instruction.rows, channels: instruction.channels, threads: threads)
        case .elew, .misc:
            switch layer.operation {
            case .elementwise, .unary:
                memory.pointwise(layer, prepared[instruction.layer], rows: instruction.rows, threads: threads)
            case .copy, .transpose, .concat, .remap:
                try memory.move(layer, prepared[instruction.layer])
            case .conv, .pool:
                return
            }
        }
    }
}

extension Double {
    /// The value clamped to ±2^53 and NaN as 0 (for converting decoded constants).
    var clamped: Double { isNaN ? 0 : Swift.min(Swift.max(self, -9e15), 9e15) }
}
