import KilnCore

/// Consistency checks: a program that passes them runs without an out-of-range access.
extension DPUProgram {
    /// Checks every index, length and shape the emulator relies on.
    ///
    /// - Throws: `dpuProgramMalformed` naming the first inconsistency.
    public func validate() throws {
        func fail(_ why: String) -> KilnError { KilnError(.dpuProgramMalformed, "DPU program '\(name)': \(why)") }
        let g = geometry
        guard g.pixelParallelism > 0, g.inputChannelParallelism > 0, g.outputChannelParallelism > 0,
            g.outputChannelParallelism <= 4096, g.inputChannelParallelism <= 4096
        else { throw fail("bad geometry") }
        let positions = -64...64
        for (index, buffer) in buffers.enumerated() {
            guard buffer.shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 24 }),
                buffer.shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }) <= 1
                    << 31,
                positions.contains(buffer.fixPosition)
            else { throw fail("buffer \(index) has a bad shape or fix position") }
            if let constant = buffer.constant {
                guard inBlob(constant), constant.count == buffer.count else {
                    throw fail("buffer \(index): bad constant")
                }
            }
        }
        let valid = buffers.indices
        guard (inputs + outputs).allSatisfy(valid.contains), inputs.allSatisfy({ buffers[$0].constant == nil }) else {
            throw fail("an input or output names no buffer")
        }
        for (index, layer) in layers.enumerated() {
            guard layer.inputs.allSatisfy(valid.contains), valid.contains(layer.output),
                buffers[layer.output].constant == nil, !layer.inputs.isEmpty
            else { throw fail("layer \(index) names no buffer") }
            guard try validLayer(layer, positions) else {
                throw fail("layer \(index) ('\(layer.name)') is inconsistent")
            }
        }
        for (index, instruction) in instructions.enumerated() {
            guard layers.indices.contains(instruction.layer), instruction.buffer.map(valid.contains) ?? true,
                instruction.rows.lowerBound >= 0, instruction.channels.lowerBound >= 0, instruction.bytes >= 0
            else { throw fail("instruction \(index) names nothing") }
            let output = buffers[layers[instruction.layer].output]
            let view = EngineView(output)
            switch instruction.opcode {
            case .load, .save:
                break
            case .conv, .dwconv, .pool:
                guard instruction.rows.upperBound <= view.rows, instruction.channels.upperBound <= view.channels else {
                    throw fail("instruction \(index) reaches beyond its layer's output")
                }
            case .elew, .misc:
                guard instruction.rows.upperBound <= output.rows else {
                    throw fail("instruction \(index) reaches beyond its layer's output")
                }
            }
            // A compute instruction runs its layer's operation on the engine that computes it.
            switch (instruction.opcode, layers[instruction.layer].operation) {
            case (.load, _), (.save, _), (.conv, .conv), (.dwconv, .conv), (.pool, .pool), (.elew, .elementwise),
                (.misc, .unary), (.misc, .copy), (.misc, .transpose), (.misc, .concat), (.misc, .remap):
                break
            default:
                throw fail("instruction \(index) runs its layer on the wrong engine")
            }
        }
    }

    func inBlob(_ range: DPUBlobRange) -> Bool {
        range.offset >= 0 && range.count >= 0 && range.offset <= blob.count && range.count <= blob.count - range.offset
    }

    private func validLayer(_ layer: DPULayer, _ positions: ClosedRange<Int>) throws -> Bool {
        let output = buffers[layer.output]
        let first = buffers[layer.inputs[0]]
        func pairs(_ values: [Int], _ minimum: Int) -> Bool {
            values.count == 2 && values.allSatisfy { $0 >= minimum && $0 <= 1 << 16 }
        }
        switch layer.operation {
        case .conv(let conv):
            let (input, out) = (EngineView(first), EngineView(output))
            guard layer.inputs.count == 1, first.shape.count == output.shape.count,
                first.shape.count >= 2,
                pairs(conv.kernel, 1), pairs(conv.strides, 1), pairs(conv.dilations, 1), pairs(conv.inputUpsampling, 1),
                conv.padBegin.count == 2, conv.padBegin.allSatisfy({ abs($0) <= 1 << 16 }),
                input.channels == conv.inputChannels, out.channels == conv.outputChannels,
                input.images == out.images, conv.kernel[0] * conv.kernel[1] <= 1 << 20,
                conv.paddedInputChannels >= 1, conv.paddedInputChannels <= 1 << 20,
                conv.reduction <= CompilerState.reductionLimit,
                positions.contains(conv.shiftCut), positions.contains(conv.shiftBias),
                positions.contains(conv.outputPosition), inBlob(conv.weights)
            else { return false }
            if conv.isDepthwise {
                guard conv.paddedInputChannels == 1, conv.inputChannels > 0,
                    conv.outputChannels % conv.inputChannels == 0
                else { return false }
            } else {
                guard conv.paddedInputChannels >= conv.inputChannels else { return false }
            }
            let blocks = ceilDiv(conv.outputChannels, geometry.outputChannelParallelism)
            guard conv.weights.count == blocks * conv.reduction * geometry.outputChannelParallelism else {
                return false
            }
            if let bias = conv.bias { guard inBlob(bias), bias.count == conv.outputChannels else { return false } }
            return true
        case .pool(let pool):
            return layer.inputs.count == 1 && first.shape.count == 4 && output.shape.count == 4
                && first.shape[0] == output.shape[0] && first.shape[1] == output.shape[1]
                && pairs(pool.kernel, 1) && pairs(pool.strides, 1) && pairs(pool.dilations, 1)
                && pool.padBegin.count == 2 && pool.padBegin.allSatisfy({ abs($0) <= 1 << 16 })
                && pool.kernel[0] * pool.kernel[1] <= 1 << 20
                && positions.contains(pool.inputPosition) && positions.contains(pool.outputPosition)
        case .elementwise(let elementwise):
            guard layer.inputs.count == 2, elementwise.inputPositions.count == 2,
                elementwise.inputPositions.allSatisfy(positions.contains),
                positions.contains(elementwise.outputPosition)
            else { return false }
            return layer.inputs.allSatisfy { input in
                let shape = buffers[input].shape
                return shape.count <= output.shape.count
                    && zip(shape.reversed(), output.shape.reversed()).allSatisfy { $0 == $1 || $0 == 1 }
            }
        case .unary(let unary):
            return layer.inputs.count == 1 && first.count == output.count && first.shape == output.shape
                && positions.contains(unary.inputPosition) && positions.contains(unary.outputPosition)
        case .copy:
            return layer.inputs.count == 1 && first.count == output.count
        case .transpose(let permutation):
            return layer.inputs.count == 1 && permutation.count == first.shape.count
                && Set(permutation) == Set(first.shape.indices)
                && permutation.map({ first.shape[$0] }) == output.shape
        case .concat(let axis):
            guard axis >= 0, axis < output.shape.count else { return false }
            var total = 0
            for input in layer.inputs {
                let shape = buffers[input].shape
                guard shape.count == output.shape.count,
                    shape.indices.allSatisfy({ $0 == axis || shape[$0] == output.shape[$0] })
                else { return false }
                total += shape[axis]
            }
            return total == output.shape[axis]
        case .remap(let remap):
            return remap.output >= 0
        }
    }
}

/// A buffer as the engines see it: images × height rows of width pixels × channels (rank 4),
/// or rows × 1 × 1 × last axis (rank 2 and other ranks).
struct EngineView {
    var images: Int
    var height: Int
    var width: Int
    var channels: Int
    /// `images · height`.
    var rows: Int { images * height }

    init(_ buffer: DPUBuffer) {
        let shape = buffer.shape
        if shape.count == 4 {
            (images, height, width, channels) = (shape[0], shape[2], shape[3], shape[1])
        } else {
            (images, height, width, channels) = (buffer.rows, 1, 1, buffer.rowLength)
        }
    }
}
