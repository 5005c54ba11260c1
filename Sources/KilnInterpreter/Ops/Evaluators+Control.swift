import KilnCore
import KilnIR

extension Evaluators {
    /// Evaluators of the control-flow family: `If` and `Loop` run their subgraphs through
    /// ``EvalContext/runSubgraph``, which resolves captured outer values by name.
    static let control: [OpKind: Evaluator] = [
        .if: { node, inputs, context in
            let condition = try context.required(inputs, 0, node)
            guard condition.count == 1 else {
                throw KilnError(.invalidArgument, "condition must hold one element, got shape \(condition.shape)")
            }
            let branchName = try truthValue(condition) ? "then_branch" : "else_branch"
            guard let branch = try node.attributes.graph(branchName) else {
                throw KilnError(.invalidModel, "missing \(branchName)")
            }
            return try context.runSubgraph(branch, []).map { $0 }
        },
        .loop: { node, inputs, context in
            try runLoop(node, inputs, context)
        },
    ]

    /// The truth value of a one-element bool (or numeric) tensor.
    static func truthValue(_ tensor: Tensor) throws -> Bool {
        switch tensor.dtype {
        case .bool: return tensor.scalars(as: Bool.self)[0]
        default:
            guard let value = tensor.integerScalars()?.first else {
                throw KilnError(.invalidArgument, "condition must be bool, got \(tensor.dtype)")
            }
            return value != 0
        }
    }

    /// `Loop`: inputs (M, cond, v_initial…); body (iteration_num, cond, v…) → (cond, v…,
    /// scan…); outputs (v_final…, scan outputs stacked on a new leading axis).
    private static func runLoop(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        guard let body = try node.attributes.graph("body") else {
            throw KilnError(.invalidModel, "Loop needs a body")
        }
        let tripLimit: Int? = try inputs.first.flatMap { $0 }.map { tensor in
            guard let value = tensor.integerScalars()?.first else {
                throw KilnError(.invalidArgument, "trip count M must be an integer scalar")
            }
            return value
        }
        var condition = try (inputs.count > 1 ? inputs[1] : nil).map(truthValue) ?? true
        var carried = try (2..<max(2, inputs.count)).map { index in
            guard let tensor = inputs[index] else {
                throw KilnError(.invalidArgument, "loop-carried input \(index) is missing")
            }
            return tensor
        }
        let scanCount = body.outputs.count - 1 - carried.count
        guard scanCount >= 0 else {
            throw KilnError(.invalidModel, "body has \(body.outputs.count) outputs for \(carried.count) loop-carried values")
        }
        var scans = [[Tensor]](repeating: [], count: scanCount)
        var iteration = 0
        while condition, tripLimit.map({ iteration < $0 }) ?? true {
            let bodyInputs = [Tensor(scalar: Int64(iteration)), Tensor(scalar: condition)] + carried
            let results = try context.runSubgraph(body, Array(bodyInputs.prefix(body.inputs.count)))
            condition = try truthValue(results[0])
            carried = Array(results[1..<(1 + carried.count)])
            for index in 0..<scanCount { scans[index].append(results[1 + carried.count + index]) }
            iteration += 1
        }
        let stacked = try scans.enumerated().map { index, slices -> Tensor in
            guard let first = slices.first else {
                let declared = body[body.outputs[1 + carried.count + index]].type
                return Tensor(zeros: [0] + (declared.staticShape ?? []), dtype: declared.dtype ?? .float32)
            }
            return try stack(slices, like: first)
        }
        return carried + stacked
    }

    /// Stacks equal-shaped tensors on a new leading axis.
    private static func stack(_ slices: [Tensor], like first: Tensor) throws -> Tensor {
        var result = Tensor(zeros: [slices.count] + first.shape, dtype: first.dtype)
        let sliceBytes = first.byteCount
        try result.withUnsafeMutableBytes { destination in
            for (index, slice) in slices.enumerated() {
                guard slice.shape == first.shape, slice.dtype == first.dtype else {
                    throw KilnError(
                        .shapeMismatch, "scan output changes shape across iterations: \(first) then \(slice)")
                }
                slice.withUnsafeBytes { source in
                    guard let base = source.baseAddress, let target = destination.baseAddress else { return }
                    (target + index * sliceBytes).copyMemory(from: base, byteCount: sliceBytes)
                }
            }
        }
        return result
    }
}
