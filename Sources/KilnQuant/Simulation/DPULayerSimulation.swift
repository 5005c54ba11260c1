import Foundation
import KilnCore
import KilnIR
import KilnInterpreter

/// One DPU layer of a plan computed with the DPU's integer pipelines
/// (``FixedPoint/convolution(accumulator:bias:shiftBias:shiftCut:activation:outputPosition:)``
/// and its siblings in `FixedPoint+Layers.swift`).
///
/// Operands arrive as floats on their fix-position grids (the simulation quantizes every
/// planned tensor); they are turned back into their integers exactly. Integer sums and
/// products (convolution accumulators, aligned sums) are computed by the float evaluators on
/// those integers, which is exact: in float32 when a convolution sums at most 2^10 int8
/// products (every partial sum an integer below 2^24), in float64 otherwise (below 2^53).
struct DPULayerSimulation: Sendable {
    let layer: LayerQuantization
    /// The layer's main node (the conv, gemm, add, …; not the fused activation).
    let node: Node
    let inputPositions: [Int]
    let weightPosition: Int?
    let biasPosition: Int?
    let outputPosition: Int

    /// The evaluator that replaces the main node's.
    func evaluate(_ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let result: (shape: [Int], values: [Int])
        switch layer.kind {
        case .conv, .gemm: result = try convolution(inputs, context)
        case .add, .mul: result = try elementwise(inputs, context)
        case .averagePool: result = try averagePool(data, context)
        case .hardSigmoid, .hardSwish, .activation:
            let position = inputPositions.first ?? outputPosition
            let values = Self.integers(data, position: position).map { value in
                switch layer.kind {
                case .hardSigmoid:
                    return FixedPoint.hardSigmoid(value, inputPosition: position, outputPosition: outputPosition)
                case .hardSwish:
                    return FixedPoint.hardSwish(value, inputPosition: position, outputPosition: outputPosition)
                default:
                    return FixedPoint.requantize(
                        value, shift: position - outputPosition, activation: layer.activation,
                        outputPosition: outputPosition)
                }
            }
            result = (data.shape, values)
        }
        let scale = exp2f(Float(-outputPosition))
        return [Tensor(shape: result.shape, scalars: result.values.map { Float($0) * scale })]
    }

    private func convolution(_ inputs: [Tensor?], _ context: EvalContext) throws -> (shape: [Int], values: [Int]) {
        guard let weightPosition, let inputPosition = inputPositions.first else {
            throw KilnError(.planMismatch, "layer '\(layer.name)' has no weight fix position")
        }
        let input = try context.required(inputs, 0, node)
        let weight = try context.required(inputs, 1, node)
        var plain = node
        plain.inputs = Array(node.inputs.prefix(2))
        // Products of int8 are at most 2^14 in magnitude, so with at most 2^10 terms per output
        // every partial sum is an integer below 2^24: exact in float32, whatever the order.
        let isExactInFloat = Self.termsPerOutput(weight, input: input, kind: layer.kind, op: node.op) <= 1 << 10
        let x =
            isExactInFloat
            ? Self.integerFloatTensor(input, position: inputPosition)
            : Self.integerTensor(input, position: inputPosition)
        let w =
            isExactInFloat
            ? Self.integerFloatTensor(weight, position: weightPosition)
            : Self.integerTensor(weight, position: weightPosition)
        let accumulators = try Self.evaluateWide(plain, [x, w], context)
        let shape = accumulators.shape
        let bias: [Int64]? = try biasPosition.map { position in
            Self.integers(try context.required(inputs, 2, node), position: position)
        }
        let isGemm = layer.kind == .gemm
        let channels = (isGemm ? shape.last : (shape.count > 1 ? shape[1] : nil)) ?? 1
        let inner = isGemm ? 1 : shape.dropFirst(2).reduce(1, *)
        let shiftCut = inputPosition + weightPosition - outputPosition
        let shiftBias = inputPosition + weightPosition - (biasPosition ?? 0)
        let values = accumulators.doubleScalars().enumerated().map { index, accumulator in
            let channel = (index / inner) % channels
            return FixedPoint.convolution(
                accumulator: Self.wholeNumber(accumulator), bias: bias.map { $0[channel % $0.count] },
                shiftBias: shiftBias,
                shiftCut: shiftCut, activation: layer.activation, outputPosition: outputPosition)
        }
        return (shape, values)
    }

    private func elementwise(_ inputs: [Tensor?], _ context: EvalContext) throws -> (shape: [Int], values: [Int]) {
        guard inputPositions.count == 2 else {
            throw KilnError(.planMismatch, "layer '\(layer.name)' needs two input fix positions")
        }
        let a = try context.required(inputs, 0, node)
        let b = try context.required(inputs, 1, node)
        if layer.kind == .mul {
            let product = try Self.evaluateWide(
                node,
                [
                    Self.integerTensor(a, position: inputPositions[0]),
                    Self.integerTensor(b, position: inputPositions[1]),
                ],
                context)
            let shift = inputPositions[0] + inputPositions[1] - outputPosition
            let values = product.scalars(as: Double.self).map {
                FixedPoint.requantize(Self.wholeNumber($0), shift: shift, outputPosition: outputPosition)
            }
            return (product.shape, values)
        }
        // Align both operands to the finest position (exact left shifts), sum, then the output stage.
        let finest = inputPositions.max() ?? outputPosition
        let aligned = [a, b].enumerated().map { index, tensor in
            Self.integerTensor(tensor, position: inputPositions[index], extraShift: finest - inputPositions[index])
        }
        let sum = try Self.evaluateWide(node, aligned, context)
        let values = sum.scalars(as: Double.self).map {
            FixedPoint.requantize(
                Self.wholeNumber($0), shift: finest - outputPosition, activation: layer.activation,
                outputPosition: outputPosition)
        }
        return (sum.shape, values)
    }

    private func averagePool(_ data: Tensor, _ context: EvalContext) throws -> (shape: [Int], values: [Int]) {
        guard let kernel = kernel(of: data) else {
            throw KilnError(.planMismatch, "layer '\(layer.name)' has no 2-D average-pool kernel")
        }
        let inputPosition = inputPositions.first ?? outputPosition
        // Window sums: the float64 mean of the integers with padded zeros counted, times the
        // window size (exact after rounding: the mean's error is far below 1/2).
        var counting = node
        if node.op == .averagePool { counting.attributes["count_include_pad"] = .int(1) }
        let means = try Self.evaluateWide(counting, [Self.integerTensor(data, position: inputPosition)], context)
        let size = Double(kernel.height * kernel.width)
        let values = means.scalars(as: Double.self).map { mean in
            FixedPoint.averagePool(
                sum: Self.wholeNumber(mean * size), kernelHeight: kernel.height, kernelWidth: kernel.width,
                inputPosition: inputPosition, outputPosition: outputPosition)
        }
        return (means.shape, values)
    }

    private func kernel(of data: Tensor) -> (height: Int, width: Int)? {
        if node.op == .globalAveragePool { return data.rank == 4 ? (data.shape[2], data.shape[3]) : nil }
        guard let kernel = (try? node.attributes.ints("kernel_shape")) ?? nil, kernel.count == 2 else { return nil }
        return (kernel[0], kernel[1])
    }

    /// An upper bound on the products summed into one output: the weight's elements per
    /// output channel (convolutions; `C_in · kh · kw` for transposed ones), the inner
    /// dimension (gemm).
    private static func termsPerOutput(_ weight: Tensor, input: Tensor, kind: LayerQuantization.Kind, op: OpKind) -> Int
    {
        if kind == .gemm { return input.shape.last ?? Int.max }
        let channels = op == .convTranspose ? weight.shape.dropFirst().first : weight.shape.first
        return weight.count / max(channels ?? 1, 1)
    }

    /// Runs the node's float evaluator on float64 (or exactly representable float32) operands.
    private static func evaluateWide(_ node: Node, _ operands: [Tensor], _ context: EvalContext) throws -> Tensor {
        guard let evaluator = Evaluators.table[node.op] else {
            throw KilnError(.kernelMissing, "[\(node.op)] node '\(node.name)': no evaluator")
        }
        guard let result = try evaluator(node, operands, context).first, let tensor = result else {
            throw KilnError(.invalidModel, "[\(node.op)] node '\(node.name)': no output")
        }
        return tensor
    }

    /// The integers of a tensor on the grid of `position` (`x · 2^p`, exact), as `Int64`.
    static func integers(_ tensor: Tensor, position: Int) -> [Int64] {
        let scale = exp2(Double(position))
        return tensor.doubleScalars().map { wholeNumber($0 * scale) }
    }

    /// `value` rounded to an integer, NaN as 0 and magnitudes clamped to 2^62 (operands are
    /// on their grids, so this only rounds away float noise of non-integral sums).
    static func wholeNumber(_ value: Double) -> Int64 {
        guard !value.isNaN else { return 0 }
        let limit = Double(Int64(1) << 62)
        return Int64(min(max(value.rounded(.toNearestOrEven), -limit), limit))
    }

    /// The integers of a float32 tensor as a float32 tensor (`x · 2^p`, exact).
    static func integerFloatTensor(_ tensor: Tensor, position: Int) -> Tensor {
        let scale = exp2f(Float(position))
        return Tensor(
            shape: tensor.shape, scalars: tensor.scalars(as: Float.self).map { ($0 * scale).rounded(.toNearestOrEven) })
    }

    /// The integers of a tensor as a float64 tensor, times `2^extraShift`.
    static func integerTensor(_ tensor: Tensor, position: Int, extraShift: Int = 0) -> Tensor {
        let scale = exp2(Double(position))
        let shift = exp2(Double(extraShift))
        return Tensor(
            shape: tensor.shape, scalars: tensor.doubleScalars().map { ($0 * scale).rounded(.toNearestOrEven) * shift })
    }
}
