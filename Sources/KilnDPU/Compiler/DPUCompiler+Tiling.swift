import KilnCore

/// Tiling: each layer becomes LOAD / compute / SAVE instructions over output-row tiles (and
/// output-channel tiles of whole OCP blocks for convolutions) that fit the banks.
extension CompilerState {
    /// A layer's view as the engines see it: rows (`N·H`), row width, channels.
    struct View {
        var rows: Int
        var width: Int
        var channels: Int
        var height: Int

        init(_ buffer: DPUBuffer) {
            let stored = buffer.storedShape
            if stored.count == 4 {
                (rows, height, width, channels) = (stored[0] * stored[1], stored[1], stored[2], stored[3])
            } else {
                (rows, height, width, channels) = (buffer.rows, 1, 1, buffer.rowLength)
            }
        }
    }

    mutating func tile() throws {
        for index in program.layers.indices {
            let layer = program.layers[index]
            switch layer.operation {
            case .conv(let conv): try tileConvolution(index, layer, conv)
            case .pool(let pool):
                try tileWindow(index, layer, kernel: pool.kernel, strides: pool.strides, dilations: pool.dilations)
            case .elementwise, .unary: try tileRows(index, layer)
            case .copy, .transpose, .concat, .remap: tileWhole(index, layer)
            }
        }
    }

    /// Rows of the input the window of `outputRows` consecutive output rows reads.
    static func inputRows(_ outputRows: Int, kernel: Int, stride: Int, dilation: Int, upsampling: Int, height: Int)
        -> Int
    {
        let virtual = (outputRows - 1) * stride + (kernel - 1) * dilation + 1
        return min(height, ceilDiv(virtual, max(1, upsampling)))
    }

    mutating func tileConvolution(_ index: Int, _ layer: DPULayer, _ conv: DPUConvolution) throws {
        let geometry = program.geometry
        let input = View(program.buffers[layer.inputs[0]])
        let output = View(program.buffers[layer.output])
        let icp = geometry.inputChannelParallelism
        let ocp = geometry.outputChannelParallelism
        let name = "[\(layer.op)] node '\(layer.name)'"
        let multiplier = max(1, conv.outputChannels / max(1, conv.inputChannels))
        func inRows(_ rows: Int) -> Int {
            Self.inputRows(
                rows, kernel: conv.kernel[0], stride: conv.strides[0], dilation: conv.dilations[0],
                upsampling: conv.inputUpsampling[0], height: input.height)
        }
        // Input channels a tile of output channels reads: all (conv), its own (depthwise).
        func inputChannels(_ tileChannels: Int) -> Int {
            conv.isDepthwise ? min(input.channels, ceilDiv(tileChannels, multiplier) + 1) : input.channels
        }
        func featureBytes(_ rows: Int, _ tileChannels: Int) -> Int {
            inRows(rows) * input.width * roundUp(inputChannels(tileChannels), icp)
                + rows * output.width * roundUp(tileChannels, ocp)
        }
        let blockBytes = conv.reduction * ocp + (conv.bias == nil ? 0 : ocp)
        let bank = conv.isDepthwise ? geometry.depthwiseBankBytes : geometry.weightBankBytes
        let blocks = ceilDiv(conv.outputChannels, ocp)
        var blocksPerTile = min(blocks, bank / max(1, blockBytes))
        guard blocksPerTile >= 1 else {
            throw KilnError(
                .dpuTileTooLarge,
                "\(name): one block of \(ocp) output channels needs \(blockBytes) weight bytes, the bank holds \(bank)")
        }
        // Fewer channels per tile when even one row of the whole channel tile overflows the image banks.
        while blocksPerTile > 1, featureBytes(1, blocksPerTile * ocp) > geometry.featureBankBytes { blocksPerTile -= 1 }
        let rowsPerTile = try fittingRows(output.rows, bank: geometry.featureBankBytes, name: name) { rows in
            featureBytes(rows, min(conv.outputChannels, blocksPerTile * ocp))
        }
        let opcode: DPUOpcode = conv.isDepthwise ? .dwconv : .conv
        for firstBlock in stride(from: 0, to: blocks, by: blocksPerTile) {
            let channels = (firstBlock * ocp)..<min(conv.outputChannels, (firstBlock + blocksPerTile) * ocp)
            let tileBlocks = ceilDiv(channels.count, ocp)
            let weightBytes = tileBlocks * conv.reduction * ocp + (conv.bias == nil ? 0 : channels.count)
            let readChannels =
                conv.isDepthwise ? min(input.channels, ceilDiv(channels.count, multiplier)) : input.channels
            emit(.load, index, buffer: nil, rows: 0..<0, channels: channels, bytes: weightBytes)
            for first in stride(from: 0, to: output.rows, by: rowsPerTile) {
                let rows = first..<min(output.rows, first + rowsPerTile)
                let loaded = inRows(rows.count)
                emit(
                    .load, index, buffer: layer.inputs[0], rows: rows, channels: 0..<readChannels,
                    bytes: loaded * input.width * readChannels)
                let operation = DPUOperation(
                    name: layer.name, op: layer.op, engine: opcode.engine,
                    inputs: [
                        FeatureInput(shape: FeatureShape(spatial: [loaded, input.width], channels: readChannels))
                    ],
                    output: FeatureShape(spatial: [rows.count, output.width], channels: channels.count),
                    kernel: conv.kernel,
                    strides: conv.inputUpsampling != [1, 1] ? conv.inputUpsampling : conv.strides,
                    groups: conv.isDepthwise ? channels.count : 1, isTransposed: conv.inputUpsampling != [1, 1],
                    weightBytes: weightBytes, inputChannels: conv.isDepthwise ? channels.count : input.channels)
                emit(
                    opcode, index, buffer: nil, rows: rows, channels: channels, bytes: 0,
                    cycles: costModel?.cycles(for: operation) ?? 0)
                emit(
                    .save, index, buffer: layer.output, rows: rows, channels: channels,
                    bytes: rows.count * output.width * channels.count)
            }
        }
    }

    /// Pooling: output rows, and channel groups of ICP when one row of all channels does
    /// not fit (a global pool over a large map).
    mutating func tileWindow(_ index: Int, _ layer: DPULayer, kernel: [Int], strides: [Int], dilations: [Int]) throws {
        let geometry = program.geometry
        let input = View(program.buffers[layer.inputs[0]])
        let output = View(program.buffers[layer.output])
        let name = "[\(layer.op)] node '\(layer.name)'"
        let icp = geometry.inputChannelParallelism
        func inRows(_ rows: Int) -> Int {
            Self.inputRows(
                rows, kernel: kernel[0], stride: strides[0], dilation: dilations[0], upsampling: 1, height: input.height
            )
        }
        func featureBytes(_ rows: Int, _ channels: Int) -> Int {
            (inRows(rows) * input.width + rows * output.width) * roundUp(channels, icp)
        }
        var groupChannels = output.channels
        while groupChannels > icp, featureBytes(1, groupChannels) > geometry.featureBankBytes {
            groupChannels = roundUp(groupChannels, icp) - icp
        }
        let rowsPerTile = try fittingRows(output.rows, bank: geometry.featureBankBytes, name: name) { rows in
            featureBytes(rows, groupChannels)
        }
        for firstChannel in stride(from: 0, to: max(1, output.channels), by: max(1, groupChannels)) {
            let channels = firstChannel..<min(output.channels, firstChannel + groupChannels)
            for first in stride(from: 0, to: output.rows, by: rowsPerTile) {
                let rows = first..<min(output.rows, first + rowsPerTile)
                let loaded = inRows(rows.count)
                emit(
                    .load, index, buffer: layer.inputs[0], rows: rows, channels: channels,
                    bytes: loaded * input.width * channels.count)
                let operation = DPUOperation(
                    name: layer.name, op: layer.op, engine: .pool,
                    inputs: [
                        FeatureInput(shape: FeatureShape(spatial: [loaded, input.width], channels: channels.count))
                    ],
                    output: FeatureShape(spatial: [rows.count, output.width], channels: channels.count),
                    kernel: kernel, strides: strides)
                emit(
                    .pool, index, buffer: nil, rows: rows, channels: channels, bytes: 0,
                    cycles: costModel?.cycles(for: operation) ?? 0)
                emit(
                    .save, index, buffer: layer.output, rows: rows, channels: channels,
                    bytes: rows.count * output.width * channels.count)
            }
        }
    }

    /// Element-wise and one-operand layers: tiles of stored rows of the output.
    mutating func tileRows(_ index: Int, _ layer: DPULayer) throws {
        let out = program.buffers[layer.output]
        let name = "[\(layer.op)] node '\(layer.name)'"
        let rowBytes = out.rowLength * (layer.inputs.count + 1)
        let rowsPerTile = try fittingRows(out.rows, bank: program.geometry.featureBankBytes, name: name) {
            $0 * rowBytes
        }
        let opcode: DPUOpcode
        if case .elementwise = layer.operation { opcode = .elew } else { opcode = .misc }
        for first in stride(from: 0, to: out.rows, by: rowsPerTile) {
            let rows = first..<min(out.rows, first + rowsPerTile)
            for input in layer.inputs {
                let share = min(program.buffers[input].count, rows.count * out.rowLength)
                emit(.load, index, buffer: input, rows: rows, channels: 0..<out.rowLength, bytes: share)
            }
            let shape = FeatureShape(spatial: [rows.count], channels: out.rowLength)
            let operation = DPUOperation(
                name: layer.name, op: layer.op, engine: opcode.engine,
                inputs: layer.inputs.map { _ in FeatureInput(shape: shape) }, output: shape)
            emit(
                opcode, index, buffer: nil, rows: rows, channels: 0..<out.rowLength, bytes: 0,
                cycles: costModel?.cycles(for: operation) ?? 0)
            emit(
                .save, index, buffer: layer.output, rows: rows, channels: 0..<out.rowLength,
                bytes: rows.count * out.rowLength)
        }
    }

    /// Data movement: one MISC instruction over the whole map (the DPU streams it).
    mutating func tileWhole(_ index: Int, _ layer: DPULayer) {
        let out = program.buffers[layer.output]
        for input in layer.inputs {
            emit(
                .load, index, buffer: input, rows: 0..<program.buffers[input].rows,
                channels: 0..<program.buffers[input].rowLength,
                bytes: program.buffers[input].count)
        }
        let operation = DPUOperation(
            name: layer.name, op: layer.op, engine: .misc,
            inputs: layer.inputs.map {
                FeatureInput(
                    shape: FeatureShape(spatial: [program.buffers[$0].rows], channels: program.buffers[$0].rowLength))
            },
            output: FeatureShape(spatial: [out.rows], channels: out.rowLength))
        emit(
            .misc, index, buffer: nil, rows: 0..<out.rows, channels: 0..<out.rowLength, bytes: 0,
            cycles: costModel?.cycles(for: operation) ?? 0)
        emit(.save, index, buffer: layer.output, rows: 0..<out.rows, channels: 0..<out.rowLength, bytes: out.count)
    }

    /// The most rows (≤ `total`) whose tile `bytes(rows)` fits `bank`; `dpuTileTooLarge` if not one.
    func fittingRows(_ total: Int, bank: Int, name: String, _ bytes: (Int) -> Int) throws -> Int {
        guard total > 0 else { return 1 }
        guard bytes(1) <= bank else {
            throw KilnError(
                .dpuTileTooLarge, "\(name): one output row needs \(bytes(1)) bytes of image banks, they hold \(bank)")
        }
        var (low, high) = (1, total)
        while low < high {
            let middle = (low + high + 1) / 2
            if bytes(middle) <= bank { low = middle } else { high = middle - 1 }
        }
        return low
    }

    mutating func emit(
        _ opcode: DPUOpcode, _ layer: Int, buffer: Int?, rows: Range<Int>, channels: Range<Int>, bytes: Int,
        cycles: Int = 0
    ) {
        program.instructions.append(
            DPUInstruction(
                opcode: opcode, layer: layer, buffer: buffer, rows: rows, channels: channels, bytes: bytes,
                cycles: cycles))
    }
}
