import Foundation
import KilnCore
import KilnIR
import KilnInterpreter

/// The memory one ``ExecutionContext`` runs in: one 64-byte aligned block, sized by the
/// plan's ``MemoryPlan/arenaBytes``. Tensors viewing it keep it alive.
final class Arena: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: MemoryPlanner.alignment)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
    }

    /// A tensor over `shape` × `dtype` at `offset`, zeroed unless `keepContents`.
    func tensor(offset: Int, shape: [Int], dtype: DType, keepContents: Bool) -> Tensor {
        let pointer = base + offset
        let bytes = Tensor.elementCount(shape) * dtype.byteSize
        if !keepContents { pointer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }
        return Tensor(shape: shape, dtype: dtype, viewing: pointer, byteCount: bytes, owner: self)
    }

    deinit {
        base.deallocate()
    }
}

/// One run's state for a ``GraphExecutor``: its own arena and value slots, over a shared,
/// read-only ``ExecutionPlan``. Use one context per thread (a context is not thread-safe;
/// the plan and the constants are).
///
/// ```swift
/// let context = executor.makeContext()
/// try context.setInput("x", x)
/// try context.run()
/// let y = try context.output("y")   // owned by the caller; the next run does not change it
/// ```
public final class ExecutionContext {
    /// The plan this context runs.
    public let plan: ExecutionPlan
    /// Records one slice per step when set (see ``TraceRecorder``).
    public var trace: TraceRecorder?
    /// Node outputs that an evaluator allocated itself instead of in its arena slot (kept
    /// as they are), over all runs of this context.
    public private(set) var unplannedOutputs = 0
    /// Node outputs copied into their arena slot (an evaluator returned a view of other memory).
    public private(set) var copiedOutputs = 0

    let arena: Arena
    private var bound: [Tensor?]
    private var values: [Tensor?]
    private var results: [Tensor?]
    private let contexts: [EvalContext]
    /// Per step with a prepared kernel that computes into the arena: its output tensor over
    /// the arena slot, made once (runs write the slot's memory through it).
    private let preparedOutputs: [Tensor?]
    /// The arena address of each of those slots.
    private let preparedAddresses: [UnsafeMutableRawPointer?]
    /// The input buffers handed to a prepared kernel (as many as the widest step has inputs).
    private let operandPointers: UnsafeMutablePointer<UnsafeRawPointer>
    /// Per value slot, where its elements are and how many bytes they span, set with the
    /// value (prepared steps read these, not the tensors).
    private let addresses: UnsafeMutablePointer<UnsafeRawPointer>
    private let byteCounts: UnsafeMutablePointer<Int>
    /// The inputs handed to an evaluator, reused from step to step.
    private var operands: [Tensor?] = []

    init(plan: ExecutionPlan) {
        self.plan = plan
        let arena = Arena(byteCount: plan.memoryPlan.arenaBytes)
        self.arena = arena
        bound = [Tensor?](repeating: nil, count: plan.valueCount)
        values = plan.initialValues
        results = [Tensor?](repeating: nil, count: plan.outputs.count)
        let threads = plan.threads
        contexts = plan.steps.map { step in
            let placements = step.placements
            return EvalContext(
                threads: threads,
                runSubgraph: { body, _ in
                    throw KilnError(.executorUnsupported, "subgraph '\(body.name)': the graph executor runs no control flow")
                },
                outputAllocator: { index, shape, dtype, overwritten in
                    guard index < placements.count, case .arena(let offset, let bytes, let inPlace)? = placements[index],
                        Tensor.elementCount(shape) * dtype.byteSize <= bytes
                    else { return Tensor(zeros: shape, dtype: dtype) }
                    return arena.tensor(offset: offset, shape: shape, dtype: dtype, keepContents: inPlace || overwritten)
                })
        }
        preparedOutputs = plan.steps.map { step in
            guard let prepared = step.prepared, case .compute = prepared.body,
                case .arena(let offset, let bytes, _)? = step.placements.first, prepared.outputBytes <= bytes
            else { return nil }
            return arena.tensor(offset: offset, shape: prepared.shape, dtype: prepared.dtype, keepContents: true)
        }
        preparedAddresses = preparedOutputs.map { $0.map { UnsafeMutableRawPointer(mutating: $0.baseAddress) } }
        let width = plan.steps.map(\.inputs.count).max() ?? 0
        operandPointers = .allocate(capacity: max(width, 1))
        operandPointers.initialize(repeating: UnsafeRawPointer(arena.base), count: max(width, 1))
        addresses = .allocate(capacity: max(plan.valueCount, 1))
        addresses.initialize(repeating: UnsafeRawPointer(arena.base), count: max(plan.valueCount, 1))
        byteCounts = .allocate(capacity: max(plan.valueCount, 1))
        byteCounts.initialize(repeating: 0, count: max(plan.valueCount, 1))
        for case let (slot, tensor?) in plan.initialValues.enumerated() { record(slot, tensor) }
    }

    deinit {
        operandPointers.deallocate()
        addresses.deallocate()
        byteCounts.deallocate()
    }

    /// Notes where value `slot` (now `tensor`) lives, for prepared steps.
    @inline(__always)
    private func record(_ slot: Int, _ tensor: Tensor) {
        addresses[slot] = tensor.baseAddress
        byteCounts[slot] = tensor.storage.byteCount
    }

    /// Binds graph input `name`.
    ///
    /// - Throws: `unknownInput`, `inputDTypeMismatch`, `inputShapeMismatch` (the plan was
    ///   compiled for one shape per input).
    public func setInput(_ name: String, _ tensor: Tensor) throws {
        guard let input = plan.inputs.first(where: { $0.name == name }) else {
            throw KilnError(.unknownInput, "the model has no input '\(name)'; its inputs are \(plan.inputs.map(\.name))")
        }
        if let dtype = input.dtype, dtype != tensor.dtype {
            throw KilnError(.inputDTypeMismatch, "input '\(name)' must be \(dtype), got \(tensor.dtype)")
        }
        guard tensor.shape == input.shape else {
            throw KilnError(
                .inputShapeMismatch,
                "input '\(name)' must have shape \(input.shape) (the plan's), got \(tensor.shape)")
        }
        bound[input.slot] = tensor
    }

    /// Runs the plan on the bound inputs.
    ///
    /// - Throws: `missingInput` for an unbound input; what kernels and subgraph runners throw.
    public func run() throws {
        values = plan.initialValues
        for input in plan.inputs {
            guard let tensor = bound[input.slot] ?? (input.hasDefault ? plan.initialValues[input.slot] : nil) else {
                throw KilnError(.missingInput, "input '\(input.name)' was not set")
            }
            values[input.slot] = tensor
            record(input.slot, tensor)
        }
        for (index, step) in plan.steps.enumerated() {
            let start = trace == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            if let prepared = step.prepared {
                try execute(step, prepared, index: index)
            } else {
                try execute(step, context: contexts[index])
            }
            if let trace {
                trace.record(
                    name: step.node.name, op: step.subgraph.map { "dpu_subgraph \($0.symbol)" } ?? step.node.op.rawValue,
                    startNanoseconds: start, endNanoseconds: DispatchTime.now().uptimeNanoseconds,
                    arguments: ["shapes": step.signature])
            }
        }
        for (position, output) in plan.outputs.enumerated() {
            guard let tensor = values[output.slot] else {
                throw KilnError(.invalidModel, "graph '\(plan.graph.name)': output '\(output.name)' was not computed")
            }
            results[position] = tensor.isView ? tensor.ownedCopy() : tensor
        }
        values = plan.initialValues
    }

    /// Runs a prepared step on the recorded input addresses: its output goes into its arena
    /// slot or, without one, a fresh tensor; a view's output
    /// is its input's memory. The output becomes a tensor only where the plan needs one.
    private func execute(_ step: ExecutionPlan.Step, _ prepared: PreparedKernel, index stepIndex: Int) throws {
        let slots = step.inputs
        let inputBytes = prepared.inputBytes
        for index in slots.indices {
            guard let slot = slots[index] else { continue }
            guard byteCounts[slot] >= inputBytes[index] else {
                throw KilnError(
                    .invalidModel,
                    "[\(step.node.op)] node '\(step.node.name)': input \(index) is smaller than its inferred shape")
            }
            operandPointers[index] = addresses[slot]
        }
        guard let slot = step.outputs[0] else { return }
        switch prepared.body {
        case .view:
            addresses[slot] = operandPointers[0]
            byteCounts[slot] = prepared.outputBytes
            if plan.needsTensor[slot], let source = slots[0], let tensor = values[source] {
                values[slot] = tensor.reshaped(prepared.shape)
            }
        case .compute(let compute):
            if let address = preparedAddresses[stepIndex] {
                compute(UnsafePointer(operandPointers), address, plan.threads)
                addresses[slot] = UnsafeRawPointer(address)
                byteCounts[slot] = prepared.outputBytes
                if plan.needsTensor[slot] { values[slot] = preparedOutputs[stepIndex] }
            } else {
                let result = Tensor(zeros: prepared.shape, dtype: prepared.dtype)
                compute(UnsafePointer(operandPointers), UnsafeMutableRawPointer(mutating: result.baseAddress), plan.threads)
                values[slot] = result
                record(slot, result)
            }
        }
        for slot in step.release { values[slot] = nil }
    }

    private func execute(_ step: ExecutionPlan.Step, context: EvalContext) throws {
        for slot in step.inputs { operands.append(slot.flatMap { values[$0] }) }
        defer { operands.removeAll(keepingCapacity: true) }
        let produced: [Tensor?]
        do {
            produced = try step.evaluator(step.node, operands, context)
        } catch let error as KilnError {
            throw KilnError(error.code, "[\(step.node.op)] node '\(step.node.name)': \(error.message)")
        }
        for (index, slot) in step.outputs.enumerated() {
            guard let slot else { continue }
            guard index < produced.count, let tensor = produced[index] else {
                throw KilnError(.invalidModel, "[\(step.node.op)] node '\(step.node.name)': output \(index) was not produced")
            }
            let placed = place(tensor, step.placements[index])
            values[slot] = placed
            record(slot, placed)
        }
        for slot in step.release { values[slot] = nil }
    }

    /// `tensor` where the plan wants it: arena values that an evaluator put elsewhere are
    /// copied into their slot when they view foreign memory (an input's), kept otherwise;
    /// heap values that view memory are copied out.
    private func place(_ tensor: Tensor, _ placement: MemoryPlan.Placement?) -> Tensor {
        switch placement {
        case .arena(let offset, let bytes, _)?:
            if tensor.baseAddress == UnsafeRawPointer(arena.base + offset) { return tensor }
            guard tensor.isView, tensor.byteCount <= bytes else {
                unplannedOutputs += 1
                return tensor
            }
            copiedOutputs += 1
            let slot = arena.tensor(offset: offset, shape: tensor.shape, dtype: tensor.dtype, keepContents: true)
            tensor.withUnsafeBytes { source in
                if let from = source.baseAddress, !source.isEmpty {
                    (arena.base + offset).copyMemory(from: from, byteCount: source.count)
                }
            }
            return slot
        case .heap?:
            return tensor.isView ? tensor.ownedCopy() : tensor
        case .alias?, nil:
            return tensor
        }
    }

    /// Output `name` of the last run, owned by the caller.
    ///
    /// - Throws: `invalidArgument` for a name that is not a graph output, or before a run.
    public func output(_ name: String) throws -> Tensor {
        guard let position = plan.outputs.firstIndex(where: { $0.name == name }) else {
            throw KilnError(.invalidArgument, "the model has no output '\(name)'; its outputs are \(plan.outputs.map(\.name))")
        }
        guard let tensor = results[position] else {
            throw KilnError(.invalidArgument, "output '\(name)' is not available before a run")
        }
        return tensor
    }

    /// Binds `inputs`, runs, and returns every graph output by name.
    ///
    /// Inputs an initializer shadows may be omitted (the initializer is the default).
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        // Only these inputs: nothing bound by an earlier run of this context stays.
        for index in bound.indices { bound[index] = nil }
        for (name, tensor) in inputs.sorted(by: { $0.key < $1.key }) { try setInput(name, tensor) }
        try run()
        var outputs: [String: Tensor] = [:]
        for (position, output) in plan.outputs.enumerated() { outputs[output.name] = results[position] }
        return outputs
    }
}
