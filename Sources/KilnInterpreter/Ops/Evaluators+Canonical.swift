import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// Evaluators of the ops that passes create: recognized activations and DPU regions.
    static let canonical: [OpKind: Evaluator] = [
        .relu6: unaryKernel(.clip(min: 0, max: 6)),
        .silu: unaryKernel(.silu),
        .dpuSubgraph: { node, inputs, context in
            // In float, a DPU region computes what its body computes.
            guard let body = try node.attributes.graph("body") else {
                throw KilnError(.invalidModel, "dpu_subgraph has no body")
            }
            let operands = try inputs.indices.map { try context.required(inputs, $0, node) }
            return try context.runSubgraph(body, operands).map { $0 }
        },
    ]

    private static func unaryKernel(_ op: UnaryOp) -> Evaluator {
        { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            var output = context.makeOutput(0, overwriting: x.shape, dtype: x.dtype)
            try UnaryKernels.apply(op, x, into: &output, threads: context.threads)
            return [output]
        }
    }
}
