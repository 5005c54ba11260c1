import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels

extension PreparedKernels {
    /// Prepared float32 `Conv` and `fusedConv` with weights packed at plan time, for the
    /// shapes ``Convolution/Prepared`` covers (the direct kernel, pointwise GEMMs): geometry,
    /// clamp, activation and path resolved once. A summand is copied into the output first
    /// unless the plan placed the output over it; the activation runs over the finished
    /// output with the unary kernel, as ``Evaluators/fusedConv(packed:)`` does.
    ///
    /// - Throws: what decoding the node's attributes throws.
    static func conv(_ node: Node, _ graph: Graph, packed: Convolution.PackedWeights) throws -> PreparedKernel? {
        guard node.op == .conv || node.op == .fusedConv, let outputID = node.outputs.first ?? nil,
            node.outputs.dropFirst().allSatisfy({ $0 == nil }), let shape = graph[outputID].type.staticShape,
            graph[outputID].type.dtype == .float32, Tensor.elementCount(shape) > 0,
            let x = node.input(0), let xShape = graph[x].type.staticShape, graph[x].type.dtype == .float32
        else { return nil }
        var operands: [[Int]?] = []
        for input in node.inputs {
            guard let input else {
                operands.append(nil)
                continue
            }
            guard let operand = graph[input].type.staticShape, graph[input].type.dtype == .float32 else { return nil }
            operands.append(operand)
        }
        let weight = packed.weight.shape
        let (geometry, group) = try Evaluators.convGeometry(node, input: xShape, weight: weight)
        let fused = node.op == .fusedConv
        let biasShape = operands.count > 2 ? operands[2] : nil
        let summandShape = fused && operands.count > 3 ? operands[3] : nil
        guard group == packed.group, operands.count > 1, operands[1] == weight,
            (try? Convolution.outputShape(input: xShape, weight: weight, bias: biasShape, group: group, geometry: geometry)) == shape,
            summandShape.map({ $0 == shape }) ?? true
        else { return nil }
        let (lower, upper, gate) = try Evaluators.convEpilogue(node)
        let hasSummand = summandShape != nil
        guard let conv = Convolution.Prepared(
            input: xShape, packed: packed, geometry: geometry, lower: lower, upper: upper, accumulate: hasSummand)
        else { return nil }
        let hasBias = biasShape != nil
        let count = Tensor.elementCount(shape)
        let body = PreparedKernel.Body.compute { inputs, output, threads in
            let y = output.typed(Float.self)
            if hasSummand {
                let z = inputs.typed(3, Float.self)
                if UnsafeRawPointer(z) != UnsafeRawPointer(y) { y.update(from: z, count: count) }
            }
            conv.run(inputs.typed(0, Float.self), bias: hasBias ? inputs.typed(2, Float.self) : nil, y, threads: threads)
            if let gate {
                let values = UnsafeMutableBufferPointer(start: y, count: count)
                UnaryKernels.floating(gate, UnsafeBufferPointer(values), values, threads)
            }
        }
        return PreparedKernel(
            shape: shape, dtype: .float32, body: body,
            inputBytes: operands.map { $0.map { Tensor.elementCount($0) * DType.float32.byteSize } ?? 0 })
    }
}
