import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// Evaluators of LSTM and GRU (part of the NN family).
    static let recurrent: [OpKind: Evaluator] = [
        .lstm: { node, inputs, context in try evaluateRecurrent(node, inputs, context, cell: .lstm) },
        .gru: { node, inputs, context in try evaluateRecurrent(node, inputs, context, cell: .gru) },
    ]

    static func evaluateRecurrent(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext, cell: Recurrent.Cell) throws -> [Tensor?] {
        func optional(_ index: Int) -> Tensor? { index < inputs.count ? inputs[index] : nil }
        let operands = Recurrent.Inputs(
            x: try context.required(inputs, 0, node), w: try context.required(inputs, 1, node),
            r: try context.required(inputs, 2, node), bias: optional(3), sequenceLengths: optional(4),
            initialH: optional(5), initialC: cell == .lstm ? optional(6) : nil, peepholes: cell == .lstm ? optional(7) : nil)
        let parameters = try recurrentParameters(node.attributes, cell: cell, r: operands.r)
        let outputs = try Recurrent.run(operands, parameters, threads: context.threads)
        return cell == .lstm ? [outputs.y, outputs.lastH, outputs.lastC] : [outputs.y, outputs.lastH]
    }

    static func recurrentParameters(_ attributes: Attributes, cell: Recurrent.Cell, r: Tensor) throws -> Recurrent.Parameters {
        let direction = try attributes.string("direction", default: "forward")
        let directions = direction == "bidirectional" ? 2 : 1
        guard ["forward", "reverse", "bidirectional"].contains(direction) else {
            throw KilnError(.unsupportedAttribute, "direction '\(direction)' is not supported")
        }
        guard r.rank == 3 else {
            throw KilnError(.shapeMismatch, "R \(r.shape) must have rank 3")
        }
        let hiddenSize = try attributes.int("hidden_size") ?? r.shape[2]
        let defaults: [RecurrentActivation] = cell == .lstm ? [.sigmoid, .tanh, .tanh] : [.sigmoid, .tanh]
        // Without the attribute: the defaults, skipping the parsing of names (run per call).
        guard let names = try attributes.strings("activations") else {
            return try recurrentParameters(attributes, cell: cell, hiddenSize: hiddenSize, directions: directions, direction: direction,
                activations: Array(Array(repeating: defaults, count: directions).joined()))
        }
        guard names.count == defaults.count * directions else {
            throw KilnError(.invalidModel, "activations lists \(names.count) functions, expected \(defaults.count * directions)")
        }
        var alphas = (try attributes.floats("activation_alpha") ?? [])[...]
        var betas = (try attributes.floats("activation_beta") ?? [])[...]
        func next(_ list: inout ArraySlice<Float>, _ fallback: Float) -> Float { list.popFirst() ?? fallback }
        let activations = try names.map { name -> RecurrentActivation in
            switch name.lowercased() {
            case "sigmoid": return .sigmoid
            case "tanh": return .tanh
            case "relu": return .relu
            case "softsign": return .softsign
            case "softplus": return .softplus
            case "hardsigmoid": return .hardSigmoid(alpha: next(&alphas, 0.2), beta: next(&betas, 0.5))
            case "affine": return .affine(alpha: next(&alphas, 1), beta: next(&betas, 0))
            case "leakyrelu": return .leakyRelu(alpha: next(&alphas, 0.01))
            case "thresholdedrelu": return .thresholdedRelu(alpha: next(&alphas, 1))
            case "scaledtanh": return .scaledTanh(alpha: next(&alphas, 1), beta: next(&betas, 1))
            case "elu": return .elu(alpha: next(&alphas, 1))
            default: throw KilnError(.unsupportedAttribute, "activation '\(name)' is not supported")
            }
        }
        return try recurrentParameters(attributes, cell: cell, hiddenSize: hiddenSize, directions: directions, direction: direction, activations: activations)
    }

    private static func recurrentParameters(
        _ attributes: Attributes, cell: Recurrent.Cell, hiddenSize: Int, directions: Int, direction: String,
        activations: [RecurrentActivation]
    ) throws -> Recurrent.Parameters {
        Recurrent.Parameters(
            cell: cell, hiddenSize: hiddenSize, directions: directions, isReverse: direction == "reverse",
            activations: activations, clip: attributes.has("clip") ? try attributes.float("clip", default: 0) : nil,
            inputForget: try attributes.int("input_forget", default: 0) != 0,
            linearBeforeReset: try attributes.int("linear_before_reset", default: 0) != 0,
            isBatchMajor: try attributes.int("layout", default: 0) == 1)
    }
}
