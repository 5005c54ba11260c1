import Foundation
import KilnCore
import KilnIR
import KilnInterpreter

/// The state of one VM run: registers, loop states, the program counter.
struct Machine {
    /// Loop bookkeeping while a loop runs.
    struct LoopState {
        var iteration = 0
        var limit: Int?
        var condition = true
        var carried: [Tensor] = []
        var scans: [[Tensor]] = []
    }

    let code: Bytecode
    let threads: Int
    let runner: any SubgraphRunner
    let trace: TraceRecorder?
    var registers: [Tensor?]
    var loopStates: [LoopState]
    private let context: EvalContext

    init(code: Bytecode, threads: Int, runner: any SubgraphRunner, trace: TraceRecorder?) {
        self.code = code
        self.threads = threads
        self.runner = runner
        self.trace = trace
        registers = [Tensor?](repeating: nil, count: code.registerCount)
        for (register, tensor) in code.constants { registers[register] = tensor }
        loopStates = [LoopState](repeating: LoopState(), count: code.loops.count)
        context = EvalContext(threads: threads) { body, _ in
            throw KilnError(.invalidModel, "subgraph '\(body.name)': the VM compiles control flow to jumps")
        }
    }

    /// Runs the instructions from the first to past the last.
    mutating func execute() throws {
        var pc = 0
        let instructions = code.instructions
        while pc < instructions.count {
            switch instructions[pc] {
            case .invoke(let index):
                try invoke(code.calls[index])
            case .invokeSubgraph(let index):
                try invokeSubgraph(code.subgraphs[index])
            case .move(let from, let to):
                registers[to] = registers[from]
            case .jumpUnless(let condition, let target):
                guard let tensor = registers[condition], tensor.count == 1 else {
                    throw KilnError(.invalidArgument, "If condition must hold one element")
                }
                if !(try Self.truthValue(tensor)) {
                    pc = target
                    continue
                }
            case .jump(let target):
                pc = target
                continue
            case .loopEnter(let index):
                try enterLoop(index)
            case .loopTest(let index, let exit):
                if !testLoop(index) {
                    pc = exit
                    continue
                }
            case .loopNext(let index):
                try nextLoop(index)
            case .loopExit(let index):
                try exitLoop(index)
            case .free(let dead):
                for register in dead { registers[register] = nil }
            }
            pc += 1
        }
    }

    private mutating func invoke(_ call: Bytecode.Call) throws {
        let operands = call.inputs.map { $0.flatMap { registers[$0] } }
        let start = trace == nil ? 0 : DispatchTime.now().uptimeNanoseconds
        let results: [Tensor?]
        do {
            results = try call.evaluator(call.node, operands, context)
        } catch let error as KilnError {
            throw KilnError(error.code, "[\(call.node.op)] node '\(call.node.name)': \(error.message)")
        }
        try store(results, call.outputs, call.node)
        if let trace {
            trace.record(
                name: call.node.name, op: call.node.op.rawValue, startNanoseconds: start,
                endNanoseconds: DispatchTime.now().uptimeNanoseconds, arguments: ["shapes": Self.shapes(operands, results)])
        }
    }

    private mutating func invokeSubgraph(_ site: Bytecode.SubgraphSite) throws {
        let operands = try site.inputs.enumerated().map { index, register -> Tensor in
            guard let register, let tensor = registers[register] else {
                throw KilnError(.invalidModel, "node '\(site.node.name)': input \(index) of \(site.call.symbol) is missing")
            }
            return tensor
        }
        let start = trace == nil ? 0 : DispatchTime.now().uptimeNanoseconds
        let results = try runner.run(site.call, inputs: operands, threads: threads)
        guard results.count == site.outputs.count else {
            throw KilnError(.invalidModel, "\(site.call.symbol) returned \(results.count) tensors for \(site.outputs.count) outputs")
        }
        try store(results, site.outputs, site.node)
        if let trace {
            trace.record(
                name: site.node.name, op: "dpu_subgraph \(site.call.symbol)", startNanoseconds: start,
                endNanoseconds: DispatchTime.now().uptimeNanoseconds, arguments: ["shapes": Self.shapes(operands, results)])
        }
    }

    private mutating func store(_ results: [Tensor?], _ outputs: [Int?], _ node: Node) throws {
        for (index, register) in outputs.enumerated() {
            guard let register else { continue }
            guard index < results.count, let tensor = results[index] else {
                throw KilnError(.invalidModel, "[\(node.op)] node '\(node.name)': output \(index) was not produced")
            }
            registers[register] = tensor
        }
    }

    private mutating func enterLoop(_ index: Int) throws {
        let loop = code.loops[index]
        var state = LoopState()
        if let register = loop.tripCount, let tensor = registers[register] {
            guard let value = tensor.integerScalars()?.first else {
                throw KilnError(.invalidArgument, "[Loop] node '\(loop.node.name)': trip count M must be an integer scalar")
            }
            state.limit = value
        }
        if let register = loop.condition, let tensor = registers[register] {
            state.condition = try Self.truthValue(tensor)
        }
        state.carried = try loop.initial.map { register in
            guard let tensor = registers[register] else {
                throw KilnError(.invalidArgument, "[Loop] node '\(loop.node.name)': a loop-carried input is missing")
            }
            return tensor
        }
        state.scans = [[Tensor]](repeating: [], count: loop.scanTypes.count)
        loopStates[index] = state
    }

    /// Whether the loop runs another iteration; binds the body's inputs when it does.
    private mutating func testLoop(_ index: Int) -> Bool {
        let state = loopStates[index]
        guard state.condition, state.limit.map({ state.iteration < $0 }) ?? true else { return false }
        let values = [Tensor(scalar: Int64(state.iteration)), Tensor(scalar: state.condition)] + state.carried
        for (register, tensor) in zip(code.loops[index].bodyInputs, values) { registers[register] = tensor }
        return true
    }

    private mutating func nextLoop(_ index: Int) throws {
        let loop = code.loops[index]
        let results = try loop.bodyOutputs.map { register in
            guard let tensor = registers[register] else {
                throw KilnError(.invalidModel, "[Loop] node '\(loop.node.name)': the body did not compute all its outputs")
            }
            return tensor
        }
        var state = loopStates[index]
        state.condition = try Self.truthValue(results[0])
        let carriedCount = state.carried.count
        state.carried = Array(results[1..<(1 + carriedCount)])
        for scan in state.scans.indices { state.scans[scan].append(results[1 + carriedCount + scan]) }
        state.iteration += 1
        loopStates[index] = state
    }

    private mutating func exitLoop(_ index: Int) throws {
        let loop = code.loops[index]
        let state = loopStates[index]
        let stacked = try state.scans.enumerated().map { scan, slices -> Tensor in
            guard let first = slices.first else {
                let declared = loop.scanTypes[scan]
                return Tensor(zeros: [0] + (declared.staticShape ?? []), dtype: declared.dtype ?? .float32)
            }
            return try Self.stack(slices, like: first)
        }
        for (register, tensor) in zip(loop.outputs, state.carried + stacked) {
            if let register { registers[register] = tensor }
        }
        loopStates[index] = LoopState()
    }

    /// The truth value of a one-element bool (or integer) tensor (as the interpreter's).
    static func truthValue(_ tensor: Tensor) throws -> Bool {
        if tensor.dtype == .bool { return tensor.scalars(as: Bool.self)[0] }
        guard let value = tensor.integerScalars()?.first else {
            throw KilnError(.invalidArgument, "condition must be bool, got \(tensor.dtype)")
        }
        return value != 0
    }

    /// Stacks equal-shaped tensors on a new leading axis.
    static func stack(_ slices: [Tensor], like first: Tensor) throws -> Tensor {
        var result = Tensor(zeros: [slices.count] + first.shape, dtype: first.dtype)
        let sliceBytes = first.byteCount
        try result.withUnsafeMutableBytes { destination in
            for (index, slice) in slices.enumerated() {
                guard slice.shape == first.shape, slice.dtype == first.dtype else {
                    throw KilnError(.shapeMismatch, "scan output changes shape across iterations: \(first) then \(slice)")
                }
                slice.withUnsafeBytes { source in
                    guard let base = source.baseAddress, let target = destination.baseAddress else { return }
                    (target + index * sliceBytes).copyMemory(from: base, byteCount: sliceBytes)
                }
            }
        }
        return result
    }

    /// `float32[1, 3], … -> float32[1, 3]`.
    static func shapes(_ inputs: [Tensor?], _ outputs: [Tensor?]) -> String {
        func list(_ tensors: [Tensor?]) -> String { tensors.map { $0?.description ?? "-" }.joined(separator: ", ") }
        return "\(list(inputs)) -> \(list(outputs))"
    }
}
