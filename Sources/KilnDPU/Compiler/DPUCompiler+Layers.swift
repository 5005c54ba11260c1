import Foundation
import KilnCore
import KilnIR
import KilnQuant

/// Pooling, element-wise, one-operand layers and data movement.
extension CompilerState {
    mutating func lowerLayer(_ node: Node, _ layer: LayerQuantization) throws {
        let name = label(node)
        guard let outputID = body.valueID(named: layer.output) else {
            throw KilnError(.dpuUnsupportedNode, "\(name): the subgraph has no value '\(layer.output)'")
        }
        switch layer.kind {
        case .conv, .gemm:
            try lowerConvolution(node, layer)
        case .add, .mul:
            guard node.inputs.count == 2, let a = node.input(0), let b = node.input(1) else {
                throw KilnError(.dpuUnsupportedNode, "\(name): element-wise layers take two operands")
            }
            let inputs = [try buffer(for: a, node: name), try buffer(for: b, node: name)]
            let positions = inputs.map { program.buffers[$0].fixPosition }
            let py = try position(layer.output, name)
            let output = try buffer(for: outputID, node: name)
            let isAdd = layer.kind == .add
            let lowest = positions.min() ?? py
            let operation = DPUElementwise(
                isAdd: isAdd, inputPositions: positions, outputPosition: py, activation: isAdd ? layer.activation : nil,
                shiftRead: isAdd ? positions.map { $0 - lowest } : [0, 0],
                shiftWrite: isAdd ? lowest - py : positions.reduce(0, +) - py)
            try checkBroadcast(inputs, output, name)
            addLayer(node, inputs: inputs, output: output, .elementwise(operation))
        case .averagePool:
            guard let x = node.input(0) else { throw KilnError(.dpuUnsupportedNode, "\(name): no input") }
            let input = try buffer(for: x, node: name)
            let output = try buffer(for: outputID, node: name)
            var pool = try pooling(node, input: input, output: output, isMax: false)
            pool.inputPosition = program.buffers[input].fixPosition
            pool.outputPosition = try position(layer.output, name)
            addLayer(node, inputs: [input], output: output, .pool(pool))
        case .hardSigmoid, .hardSwish, .activation:
            guard let x = node.input(0) else { throw KilnError(.dpuUnsupportedNode, "\(name): no input") }
            let input = try buffer(for: x, node: name)
            let output = try buffer(for: outputID, node: name)
            guard program.buffers[input].count == program.buffers[output].count else {
                throw KilnError(.dpuUnsupportedNode, "\(name): input and output sizes differ")
            }
            let function: DPUUnary.Function =
                layer.kind == .hardSigmoid ? .hardSigmoid : layer.kind == .hardSwish ? .hardSwish : .activation
            let unary = DPUUnary(
                function: function, activation: layer.activation, inputPosition: program.buffers[input].fixPosition,
                outputPosition: try position(layer.output, name))
            addLayer(node, inputs: [input], output: output, .unary(unary))
        }
    }

    /// Operands broadcast to the output's shape (ONNX rules, right-aligned).
    func checkBroadcast(_ inputs: [Int], _ output: Int, _ name: String) throws {
        let shape = program.buffers[output].shape
        for input in inputs {
            let operand = program.buffers[input].shape
            guard operand.count <= shape.count,
                zip(operand.reversed(), shape.reversed()).allSatisfy({ $0 == $1 || $0 == 1 })
            else {
                throw KilnError(.dpuUnsupportedNode, "\(name): operand shape \(operand) does not broadcast to \(shape)")
            }
        }
    }

    /// A 2-D pooling window from the node's attributes (global pooling: the whole map).
    func pooling(_ node: Node, input: Int, output: Int, isMax: Bool) throws -> DPUPooling {
        let name = label(node)
        let inShape = program.buffers[input].shape
        let outShape = program.buffers[output].shape
        guard inShape.count == 4, outShape.count == 4, inShape[0] == outShape[0], inShape[1] == outShape[1] else {
            throw KilnError(.dpuUnsupportedNode, "\(name): only 2-D pooling runs on the DPU")
        }
        if node.op == .globalAveragePool || node.op == .globalMaxPool {
            return DPUPooling(
                isMax: isMax, kernel: [inShape[2], inShape[3]], strides: [1, 1], dilations: [1, 1], padBegin: [0, 0],
                inputPosition: 0, outputPosition: 0)
        }
        let attributes = node.attributes
        guard let kernel = (try? attributes.ints("kernel_shape")) ?? nil, kernel.count == 2 else {
            throw KilnError(.dpuUnsupportedNode, "\(name): only 2-D pooling runs on the DPU")
        }
        let strides = ((try? attributes.ints("strides")) ?? nil) ?? [1, 1]
        let dilations = ((try? attributes.ints("dilations")) ?? nil) ?? [1, 1]
        var pads = ((try? attributes.ints("pads")) ?? nil) ?? [0, 0, 0, 0]
        let autoPad = (try? attributes.string("auto_pad", default: "NOTSET")) ?? "NOTSET"
        if autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            for axis in 0..<2 {
                let total = max(
                    0,
                    (outShape[2 + axis] - 1) * strides[axis] + (kernel[axis] - 1) * dilations[axis] + 1
                        - inShape[2 + axis])
                pads[axis] = autoPad == "SAME_LOWER" ? total - total / 2 : total / 2
            }
        } else if autoPad == "VALID" {
            pads = [0, 0, 0, 0]
        }
        guard strides.count == 2, dilations.count == 2, pads.count == 4 else {
            throw KilnError(.dpuUnsupportedNode, "\(name): only 2-D pooling runs on the DPU")
        }
        return DPUPooling(
            isMax: isMax, kernel: kernel, strides: strides, dilations: dilations, padBegin: [pads[0], pads[1]],
            inputPosition: 0, outputPosition: 0)
    }

    /// A node the plan has no layer for: data movement, or an error.
    mutating func lowerDataMovement(_ node: Node) throws {
        let name = label(node)
        guard let x = node.input(0), body.initializers[x] == nil else {
            throw KilnError(.dpuUnsupportedNode, "\(name): no integer pipeline for this node on the DPU")
        }
        let dataInputs: [ValueID]
        switch node.op {
        case .concat: dataInputs = node.inputs.compactMap { $0 }
        case .reshape, .flatten, .squeeze, .unsqueeze, .identity, .transpose, .maxPool, .globalMaxPool, .slice, .split,
            .pad, .resize:
            dataInputs = [x]
        default:
            throw KilnError(.dpuUnsupportedNode, "\(name): no integer pipeline for this node on the DPU")
        }
        if node.op == .resize, (try? node.attributes.string("mode", default: "nearest")) != "nearest" {
            throw KilnError(
                .dpuUnsupportedNode, "\(name): only nearest resize is lowered (bilinear has no plan pipeline)")
        }
        let inputs = try dataInputs.map { try buffer(for: $0, node: name) }
        let outputIDs = node.outputs.compactMap { $0 }
        let outputs = try outputIDs.map { try buffer(for: $0, node: name) }
        let position = program.buffers[inputs[0]].fixPosition
        for buffer in inputs + outputs where program.buffers[buffer].fixPosition != position {
            throw KilnError(
                .dpuUnsupportedNode,
                "\(name): data movement between fix positions \(position) and "
                    + "\(program.buffers[buffer].fixPosition) ('\(program.buffers[buffer].name)')")
        }
        guard let output = outputs.first else { throw KilnError(.dpuUnsupportedNode, "\(name): no output") }
        switch node.op {
        case .reshape, .flatten, .squeeze, .unsqueeze, .identity:
            guard program.buffers[inputs[0]].count == program.buffers[output].count else {
                throw KilnError(.dpuUnsupportedNode, "\(name): input and output sizes differ")
            }
            addLayer(node, inputs: inputs, output: output, .copy)
        case .transpose:
            let rank = program.buffers[inputs[0]].shape.count
            let permutation = ((try? node.attributes.ints("perm")) ?? nil) ?? Array((0..<rank).reversed())
            guard Set(permutation) == Set(0..<rank), permutation.count == rank,
                permutation.map({ program.buffers[inputs[0]].shape[$0] }) == program.buffers[output].shape
            else { throw KilnError(.dpuUnsupportedNode, "\(name): the permutation does not match the shapes") }
            addLayer(node, inputs: inputs, output: output, .transpose(permutation: permutation))
        case .concat:
            let rank = program.buffers[output].shape.count
            let raw = (try? node.attributes.int("axis", default: 0)) ?? 0
            let axis = raw < 0 ? raw + rank : raw
            try checkConcat(inputs, output, axis: axis, name)
            addLayer(node, inputs: inputs, output: output, .concat(axis: axis))
        case .maxPool, .globalMaxPool:
            guard outputs.count == 1 else {
                throw KilnError(.dpuUnsupportedNode, "\(name): max pooling with indices is not lowered")
            }
            let pool = try pooling(node, input: inputs[0], output: output, isMax: true)
            addLayer(node, inputs: inputs, output: output, .pool(pool))
        default:
            // Slice, split, pad, nearest resize: the ONNX op on the int8 values.
            let remap = try remap(node, dataInputs: dataInputs, outputs: outputIDs)
            for (index, buffer) in outputs.enumerated() {
                program.layers.append(
                    DPULayer(
                        name: node.name, op: node.op.rawValue, inputs: inputs, output: buffer,
                        operation: .remap(DPURemap(graph: remap.graph, constants: remap.constants, output: index))))
            }
        }
    }

    func checkConcat(_ inputs: [Int], _ output: Int, axis: Int, _ name: String) throws {
        let shape = program.buffers[output].shape
        guard axis >= 0, axis < shape.count else { throw KilnError(.dpuUnsupportedNode, "\(name): bad concat axis") }
        var total = 0
        for input in inputs {
            let operand = program.buffers[input].shape
            guard operand.count == shape.count,
                operand.indices.allSatisfy({ $0 == axis || operand[$0] == shape[$0] })
            else { throw KilnError(.dpuUnsupportedNode, "\(name): operand shape \(operand) does not concatenate") }
            total += operand[axis]
        }
        guard total == shape[axis] else { throw KilnError(.dpuUnsupportedNode, "\(name): concat sizes do not add up") }
    }

    /// The node as a one-node graph document with its constant operands.
    func remap(_ node: Node, dataInputs: [ValueID], outputs: [ValueID]) throws -> DPURemap {
        var graph = Graph(name: node.name)
        var map: [ValueID: ValueID] = [:]
        func local(_ id: ValueID) -> ValueID {
            if let mapped = map[id] { return mapped }
            let new = graph.addValue(body[id])
            map[id] = new
            if let constant = body.initializers[id] { graph.initializers[new] = constant }
            return new
        }
        graph.inputs = dataInputs.map(local)
        var copy = node
        copy.inputs = node.inputs.map { $0.map(local) }
        copy.outputs = node.outputs.map { $0.map(local) }
        graph.addNode(copy)
        graph.outputs = outputs.map(local)
        let (document, tensors) = graph.encodedWithoutConstants(symbolPrefix: "")
        let json = try JSONEncoder().encode(document)
        var constants: [String: DPUConstant] = [:]
        for (symbol, tensor) in tensors {
            constants[symbol] = DPUConstant(
                dtype: tensor.dtype.rawValue, shape: tensor.shape, values: tensor.doubleScalars())
        }
        return DPURemap(graph: String(decoding: json, as: UTF8.self), constants: constants, output: 0)
    }
}
