import Foundation
import KilnCore
import KilnDPU
import KilnIR

extension DPUModule: Executable {
    /// Calls `dpu_subgraph_<id>` with float inputs in the program's input order; see
    /// ``invoke(_:_:inputNames:threads:)``.
    public func invoke(_ symbol: String, _ inputs: [Tensor]) throws -> [Tensor] {
        try invoke(symbol, inputs, inputNames: nil, threads: 1)
    }

    /// Runs the program of `dpu_subgraph_<id>` on the emulator: each float input is
    /// quantized at its buffer's fix position, the outputs come back dequantized
    /// (``KilnDPU/DPUEmulator/runDequantized(_:)``), as the CPU graph passes values across
    /// a `dpuSubgraph` node.
    ///
    /// - Parameters:
    ///   - symbol: `dpu_subgraph_<id>`.
    ///   - inputs: One float tensor per input, in the order of `inputNames`.
    ///   - inputNames: The value names of `inputs` (the calling node's body inputs); `nil`
    ///     means the program's input order. Inputs the program does not read (a body input
    ///     that is a constant) are ignored.
    ///   - threads: Threads the emulator's engines use.
    /// - Returns: One float tensor per program output, in the body's output order.
    /// - Throws: `functionNotFound`; `constantMissing` when the module was not initialized;
    ///   `dpuProgramMalformed` for a program that did not decode; `dpuTargetMismatch` for a
    ///   program compiled for another fingerprint than the module's; `missingInput` and
    ///   what the emulator throws.
    public func invoke(_ symbol: String, _ inputs: [Tensor], inputNames: [String]?, threads: Int) throws -> [Tensor] {
        let (emulator, feed) = try prepare(symbol, inputs, inputNames: inputNames, threads: threads)
        let outputs = try emulator.runDequantized(feed)
        return try emulator.program.outputs.map { index in
            let output = emulator.program.buffers[index].name
            guard let tensor = outputs[output] else {
                throw KilnError(.invalidModel, "\(symbol): output '\(output)' was not computed")
            }
            return tensor
        }
    }

    /// The emulator of `symbol`, checked against the module's fingerprint and set to
    /// `threads`, and the call's inputs by value name.
    ///
    /// - Throws: what ``invoke(_:_:inputNames:threads:)`` throws before running.
    func prepare(
        _ symbol: String, _ inputs: [Tensor], inputNames: [String]?, threads: Int
    ) throws -> (DPUEmulator, [String: Tensor]) {
        guard let id = Self.subgraphID(of: symbol), programs[id] != nil else {
            throw KilnError(
                .functionNotFound, "DPU module '\(name)' exports \(functionSymbols), not '\(symbol)'")
        }
        guard let prepared = emulators[id] else {
            throw KilnError(.constantMissing, "DPU module '\(name)' is not initialized (its programs are not decoded)")
        }
        var emulator: DPUEmulator
        switch prepared {
        case .success(let prepared): emulator = prepared
        case .failure(let error): throw KilnError(error.code, "\(symbol) of module '\(name)': \(error.message)")
        }
        let program = emulator.program
        guard program.fingerprint == fingerprint else {
            throw KilnError(
                .dpuTargetMismatch,
                "DPU program of subgraph \(id) was compiled for \(program.target) "
                    + "(\(program.fingerprint?.description ?? "no fingerprint")), but module '\(name)' is for \(fingerprint); recompile it"
            )
        }
        emulator.threads = max(1, threads)
        let names = inputNames ?? program.inputs.map { program.buffers[$0].name }
        guard names.count == inputs.count else {
            throw KilnError(
                .missingInput, "\(symbol) takes \(names.count) inputs (\(names)), got \(inputs.count)")
        }
        return (emulator, Dictionary(zip(names, inputs), uniquingKeysWith: { first, _ in first }))
    }

    /// The decoded program of subgraph `id`, when it decodes.
    public func program(subgraph id: Int) -> DPUProgram? {
        (try? emulators[id]?.get())?.program
    }

    /// The subgraph id in `dpu_subgraph_<id>`.
    static func subgraphID(of symbol: String) -> Int? {
        let prefix = "dpu_subgraph_"
        guard symbol.hasPrefix(prefix) else { return nil }
        return Int(symbol.dropFirst(prefix.count))
    }
}
