import Foundation
import KilnCore
import KilnDPU

/// What one DPU subgraph call held: every feature map of its program (inputs,
/// intermediates, outputs; not constants), as int8 integers in the graph's layout (`N×C×H×W`
/// for rank 4), by value name — the emulator's counterpart of Vitis AI's dump mode.
public struct SubgraphDump: Sendable {
    /// The role of a feature map in its program.
    public enum Role: String, Codable, Sendable {
        /// A program input (quantized from the CPU graph's float value).
        case input
        /// A map computed and consumed inside the program.
        case intermediate
        /// A program output (dequantized back to the CPU graph).
        case output
    }

    /// One dumped feature map.
    public struct Map: Sendable {
        /// The graph value's name.
        public let name: String
        /// Its role in the program.
        public let role: Role
        /// Its fix position: integer `q` means `q · 2^-p`.
        public let fixPosition: Int
        /// The integers, int8, graph layout.
        public let tensor: Tensor
    }

    /// The subgraph's id.
    public let subgraph: Int
    /// The calling node's name.
    public let nodeName: String
    /// The maps, in the program's buffer order.
    public let maps: [Map]
}

extension DPUModule {
    /// Runs `dpu_subgraph_<id>` like ``invoke(_:_:inputNames:threads:)`` — the same quantized
    /// inputs, the same integers — and also returns every feature map the program held.
    ///
    /// - Returns: One float tensor per program output (the dumped outputs dequantized, equal
    ///   to what `invoke` returns), and the dump.
    /// - Throws: what ``invoke(_:_:inputNames:threads:)`` throws.
    public func invokeDumping(
        _ symbol: String, _ inputs: [Tensor], inputNames: [String]?, threads: Int, nodeName: String
    ) throws -> (outputs: [Tensor], dump: SubgraphDump) {
        let (emulator, feed) = try prepare(symbol, inputs, inputNames: inputNames, threads: threads)
        let program = emulator.program
        var quantized: [String: Tensor] = [:]
        for index in program.inputs {
            let buffer = program.buffers[index]
            guard let tensor = feed[buffer.name] else { continue }
            let values = tensor.doubleScalars().map {
                Int8(FixedPoint.quantize(Float($0), fixPosition: buffer.fixPosition, mode: buffer.roundMode))
            }
            quantized[buffer.name] = Tensor(shape: tensor.shape, scalars: values)
        }
        let values = try emulator.dump(quantized)
        let inputSet = Set(program.inputs)
        let outputSet = Set(program.outputs)
        var maps: [SubgraphDump.Map] = []
        for (index, buffer) in program.buffers.enumerated() where buffer.constant == nil {
            guard let tensor = values[buffer.name] else { continue }
            let role: SubgraphDump.Role =
                inputSet.contains(index) ? .input : outputSet.contains(index) ? .output : .intermediate
            maps.append(.init(name: buffer.name, role: role, fixPosition: buffer.fixPosition, tensor: tensor))
        }
        let outputs = try program.outputs.map { index in
            let buffer = program.buffers[index]
            guard let tensor = values[buffer.name] else {
                throw KilnError(.invalidModel, "\(symbol): output '\(buffer.name)' was not computed")
            }
            let scale = exp2f(Float(-buffer.fixPosition))
            return Tensor(shape: tensor.shape, scalars: tensor.scalars(as: Int8.self).map { Float($0) * scale })
        }
        let id = Self.subgraphID(of: symbol) ?? -1
        return (outputs, SubgraphDump(subgraph: id, nodeName: nodeName, maps: maps))
    }
}
