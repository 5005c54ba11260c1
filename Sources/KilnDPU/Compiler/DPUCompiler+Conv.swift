import KilnCore
import KilnIR
import KilnQuant

/// Convolution, depthwise and transposed convolution, fully connected: weights packed in
/// output-channel blocks, shifts resolved.
extension CompilerState {
    /// The largest reduction (`kh·kw·padded input channels`) whose int32 sums cannot overflow.
    static let reductionLimit = 1 << 17

    mutating func lowerConvolution(_ node: Node, _ layer: LayerQuantization) throws {
        let name = label(node)
        guard let x = node.input(0), let weightID = node.input(1), let weight = body.initializers[weightID],
            let weightName = layer.weight, let weightQuantization = plan.tensors[weightName],
            let inputName = layer.inputs.first, let outputID = body.valueID(named: layer.output)
        else { throw KilnError(.dpuUnsupportedNode, "\(name): no constant weight with a plan entry") }
        let px = try position(inputName, name)
        let pw = try position(weightName, name)
        let py = try position(layer.output, name)
        let pb = try layer.bias.map { try position($0, name) }
        let input = try buffer(for: x, node: name)
        let inputShape = program.buffers[input].shape
        let outputShape = try shape(outputID, name)
        let w = Self.quantized(weight, weightQuantization)
        let bias: [Int]? = try node.input(2).map { id in
            guard let tensor = body.initializers[id], let biasName = layer.bias,
                let quantization = plan.tensors[biasName]
            else { throw KilnError(.dpuUnsupportedNode, "\(name): the bias is not a planned constant") }
            return Self.quantized(tensor, quantization)
        }
        let attributes = node.attributes
        let geometry = program.geometry
        var conv: DPUConvolution
        var weightAt: (_ oc: Int, _ ci: Int, _ ky: Int, _ kx: Int) -> Int
        switch node.op {
        case .gemm, .matMul:
            // Gemm: rank 2; MatMul with a constant K×N weight: any rank ≥ 2, rows = leading axes.
            guard inputShape.count >= 2, outputShape.count == inputShape.count, weight.rank == 2,
                node.op == .matMul || inputShape.count == 2, inputShape.dropLast() == outputShape.dropLast(),
                !(node.op == .matMul && inputShape.count == 4)
            else {
                throw KilnError(
                    .dpuUnsupportedNode,
                    "\(name): fully connected layers need rank-2 (Gemm) or rank-2/3 (MatMul) operands")
            }
            let transB = node.op == .gemm && (try? attributes.int("transB", default: 0)) == 1
            let (k, oc) = (inputShape[inputShape.count - 1], outputShape[outputShape.count - 1])
            guard weight.shape == (transB ? [oc, k] : [k, oc]) else {
                throw KilnError(
                    .dpuUnsupportedNode, "\(name): weight shape \(weight.shape) does not match \(inputShape)")
            }
            conv = Self.convolution(inputChannels: k, outputChannels: oc, kernel: [1, 1], geometry: geometry)
            weightAt = { oc0, ci, _, _ in transB ? w[oc0 * k + ci] : w[ci * oc + oc0] }
        case .conv, .convTranspose:
            guard inputShape.count == 4, outputShape.count == 4, weight.rank == 4 else {
                throw KilnError(.dpuUnsupportedNode, "\(name): only 2-D convolutions run on the DPU")
            }
            let isTransposed = node.op == .convTranspose
            let (cin, cout) = (inputShape[1], outputShape[1])
            let kernel = [weight.shape[2], weight.shape[3]]
            let strides = ((try? attributes.ints("strides")) ?? nil) ?? [1, 1]
            let dilations = ((try? attributes.ints("dilations")) ?? nil) ?? [1, 1]
            let group = (try? attributes.int("group", default: 1)) ?? 1
            let autoPad = (try? attributes.string("auto_pad", default: "NOTSET")) ?? "NOTSET"
            var pads = ((try? attributes.ints("pads")) ?? nil) ?? [0, 0, 0, 0]
            guard strides.count == 2, dilations.count == 2, pads.count == 4 else {
                throw KilnError(.dpuUnsupportedNode, "\(name): only 2-D windows run on the DPU")
            }
            conv = Self.convolution(inputChannels: cin, outputChannels: cout, kernel: kernel, geometry: geometry)
            conv.dilations = dilations
            if isTransposed {
                guard group == 1, autoPad == "NOTSET", !attributes.has("output_shape"), weight.shape[0] == cin,
                    weight.shape[1] == cout
                else {
                    throw KilnError(.dpuUnsupportedNode, "\(name): this transposed convolution form is not lowered")
                }
                // The stride-1 convolution over the zero-upsampled input with the flipped kernel.
                conv.inputUpsampling = strides
                conv.padBegin = (0..<2).map { (kernel[$0] - 1) * dilations[$0] - pads[$0] }
                let (kh, kw) = (kernel[0], kernel[1])
                weightAt = { oc, ci, ky, kx in w[((ci * cout + oc) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)] }
            } else {
                if autoPad != "NOTSET" && autoPad != "VALID" {
                    for axis in 0..<2 {
                        let size = inputShape[2 + axis]
                        let total = max(
                            0,
                            (outputShape[2 + axis] - 1) * strides[axis] + (kernel[axis] - 1) * dilations[axis] + 1
                                - size)
                        pads[axis] = autoPad == "SAME_LOWER" ? total - total / 2 : total / 2
                    }
                } else if autoPad == "VALID" {
                    pads = [0, 0, 0, 0]
                }
                conv.strides = strides
                conv.padBegin = [pads[0], pads[1]]
                let (kh, kw) = (kernel[0], kernel[1])
                if group == 1 {
                    guard weight.shape[1] == cin, weight.shape[0] == cout else {
                        throw KilnError(.dpuUnsupportedNode, "\(name): weight shape \(weight.shape) does not match")
                    }
                    weightAt = { oc, ci, ky, kx in w[((oc * cin + ci) * kh + ky) * kw + kx] }
                } else if group == cin, weight.shape[1] == 1, cout % cin == 0, weight.shape[0] == cout {
                    conv.isDepthwise = true
                    conv.paddedInputChannels = 1
                    weightAt = { oc, _, ky, kx in w[(oc * kh + ky) * kw + kx] }
                } else {
                    throw KilnError(.dpuUnsupportedNode, "\(name): grouped convolution (group \(group)) is not lowered")
                }
            }
        default:
            throw KilnError(.dpuUnsupportedNode, "\(name): not a convolution")
        }
        guard conv.reduction <= Self.reductionLimit else {
            throw KilnError(.dpuUnsupportedNode, "\(name): \(conv.reduction) products per output overflow int32")
        }
        conv.weights = append(Self.packed(conv, geometry: geometry, weightAt))
        if let bias {
            guard bias.count == conv.outputChannels else {
                throw KilnError(
                    .dpuUnsupportedNode, "\(name): \(bias.count) biases for \(conv.outputChannels) channels")
            }
            conv.bias = append(bias)
        }
        conv.shiftCut = px + pw - py
        conv.shiftBias = px + pw - (pb ?? 0)
        conv.activation = layer.activation
        conv.outputPosition = py
        let output = try buffer(for: outputID, node: name)
        addLayer(node, inputs: [input], output: output, .conv(conv))
    }

    /// A plain convolution's parameters before the window attributes are read.
    static func convolution(inputChannels: Int, outputChannels: Int, kernel: [Int], geometry: DPUGeometry)
        -> DPUConvolution
    {
        DPUConvolution(
            kernel: kernel, strides: [1, 1], dilations: [1, 1], padBegin: [0, 0], inputUpsampling: [1, 1],
            isDepthwise: false, inputChannels: inputChannels, outputChannels: outputChannels,
            paddedInputChannels: roundUp(inputChannels, geometry.inputChannelParallelism),
            weights: DPUBlobRange(offset: 0, count: 0), bias: nil, shiftBias: 0, shiftCut: 0, activation: nil,
            outputPosition: 0)
    }

    /// Weights in output-channel blocks of OCP: conv blocks are row-major `K × OCP`
    /// (`K = kh·kw·paddedInputChannels`), depthwise blocks `kh·kw × OCP`; padding is zero.
    static func packed(
        _ conv: DPUConvolution, geometry: DPUGeometry, _ weightAt: (Int, Int, Int, Int) -> Int
    ) -> [Int] {
        let ocp = geometry.outputChannelParallelism
        let blocks = ceilDiv(conv.outputChannels, ocp)
        let (kh, kw) = (conv.kernel[0], conv.kernel[1])
        let k = conv.reduction
        var packed = [Int](repeating: 0, count: blocks * k * ocp)
        for block in 0..<blocks {
            for j in 0..<ocp {
                let oc = block * ocp + j
                guard oc < conv.outputChannels else { continue }
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let tap = ky * kw + kx
                        if conv.isDepthwise {
                            packed[(block * k + tap) * ocp + j] = weightAt(oc, 0, ky, kx)
                            continue
                        }
                        for ci in 0..<conv.inputChannels {
                            packed[(block * k + tap * conv.paddedInputChannels + ci) * ocp + j] = weightAt(
                                oc, ci, ky, kx)
                        }
                    }
                }
            }
        }
        return packed
    }
}
