import Foundation
import KilnCore
import KilnIR
import KilnInterpreter

/// Runs a graph compiled to ``Bytecode``: any shapes (kernels compute their output shapes
/// from the data), `If` and `Loop` as jumps, accelerator subgraphs through the same
/// ``SubgraphRunner`` as ``GraphExecutor``, the same kernels.
///
/// Thread-safe: the bytecode and constants are shared read-only; each ``run(_:trace:)``
/// has its own registers.
///
/// ```swift
/// let vm = try VirtualMachine(graph: graph)
/// let outputs = try vm.run(["x": x])
/// ```
public struct VirtualMachine: ModelExecutor {
    /// The graph, as given.
    public let graph: Graph
    let code: Bytecode
    let threads: Int
    let runner: any SubgraphRunner
    /// Graph-executor plans by input shapes, when specializing.
    let specializations: ShapeSpecializations?
    /// The inputs whose shapes make a run's signature (plain, then defaulted).
    private let signatureNames: [String]

    /// Compiles `graph`.
    ///
    /// - Parameters:
    ///   - specializingShapes: Compile a graph-executor plan for input shapes on their
    ///     second run and run those shapes on it from then on (see ``ShapeSpecializations``);
    ///     `false` always runs the bytecode.
    /// - Throws: `verificationFailed`, `kernelMissing`, `invalidModel` (a malformed `If`/`Loop`).
    public init(
        graph: Graph, runner: any SubgraphRunner = NoSubgraphRunner(), threads: Int = 1, specializingShapes: Bool = false
    ) throws {
        try Verifier.verify(graph)
        self.graph = graph
        code = try BytecodeCompiler.compile(graph, runner: runner)
        self.threads = max(1, threads)
        self.runner = runner
        specializations = specializingShapes ? ShapeSpecializations(graph: graph, runner: runner, threads: self.threads) : nil
        signatureNames = (code.inputs + code.defaultedInputs).map(\.name)
    }

    /// `"vm"`.
    public var kindName: String { "vm" }
    /// The VM allocates per kernel call: no memory plan.
    public var plannedMemory: MemoryPlan? { nil }
    /// Input-shape signatures that run on a specialized graph-executor plan (0 when not
    /// specializing).
    public var specializedPlanCount: Int { specializations?.compiledCount ?? 0 }
    /// Number of instructions (for `kiln show` and tests).
    public var instructionCount: Int { code.instructions.count }

    /// ``CPUModule/entryFunction``.
    public var functionSymbols: [String] { [CPUModule.entryFunction] }

    /// Calls `main` with the inputs in graph-input order.
    public func invoke(_ symbol: String, _ inputs: [Tensor]) throws -> [Tensor] {
        try invokeByPosition(symbol, inputs)
    }

    /// Runs the program on `inputs` by name.
    ///
    /// - Throws: `unknownInput`, `missingInput`, `inputDTypeMismatch`, `inputShapeMismatch`;
    ///   what kernels and the subgraph runner throw.
    public func run(_ inputs: [String: Tensor], trace: TraceRecorder?) throws -> [String: Tensor] {
        let known = Set(graph.inputs.map { graph[$0].name })
        for name in inputs.keys.sorted() where !known.contains(name) {
            throw KilnError(.unknownInput, "the model has no input '\(name)'; its inputs are \(code.inputs.map(\.name))")
        }
        for input in code.inputs {
            guard let tensor = inputs[input.name] else {
                throw KilnError(.missingInput, "input '\(input.name)' (\(input.value.type)) was not provided")
            }
            try VirtualMachine.check(tensor, against: input.value)
        }
        for input in code.defaultedInputs {
            if let tensor = inputs[input.name] { try VirtualMachine.check(tensor, against: input.value) }
        }
        if let specializations,
            let executor = specializations.executor(for: signatureNames.map { inputs[$0]?.shape }, names: signatureNames)
        {
            return try executor.run(inputs, trace: trace)
        }
        var machine = Machine(code: code, threads: threads, runner: runner, trace: trace)
        for input in code.inputs { machine.registers[input.register] = inputs[input.name] }
        // An input an initializer shadows takes the caller's tensor when given.
        for input in code.defaultedInputs {
            if let tensor = inputs[input.name] { machine.registers[input.register] = tensor }
        }
        try machine.execute()
        var outputs: [String: Tensor] = [:]
        for output in code.outputs {
            guard let tensor = machine.registers[output.register] else {
                throw KilnError(.invalidModel, "graph '\(graph.name)': output '\(output.name)' was not computed")
            }
            outputs[output.name] = tensor
        }
        return outputs
    }

    /// Checks a caller's tensor against a graph input's declared type.
    static func check(_ tensor: Tensor, against value: Value) throws {
        if let dtype = value.type.dtype, dtype != tensor.dtype {
            throw KilnError(.inputDTypeMismatch, "input '\(value.name)' must be \(dtype), got \(tensor.dtype)")
        }
        guard let shape = value.type.shape else { return }
        guard shape.count == tensor.rank,
            zip(shape, tensor.shape).allSatisfy({ dim, actual in dim.value.map { $0 == actual } ?? true })
        else {
            throw KilnError(.inputShapeMismatch, "input '\(value.name)' must have shape \(value.type), got \(tensor.shape)")
        }
    }
}
