import KilnIR

/// Multiply-accumulates per node, the inspector's measure of work: a MAC is two ops.
///
/// Counted for the ops that dominate CNN and RNN inference: convolutions (and transposed
/// ones), Gemm and MatMul, pooling (one accumulate or compare per window element), LSTM
/// and GRU, and DPU subgraphs (the sum of their bodies). Everything else counts 0, as does
/// a node whose shapes are not static.
enum OpCost {
    /// The MACs of `node` in `graph` (types inferred).
    static func macs(_ node: Node, in graph: Graph) -> Int {
        func shape(_ value: ValueID?) -> [Int]? { value.flatMap { graph[$0].type.staticShape } }
        let input = shape(node.input(0))
        let output = shape(node.outputs.first ?? nil)
        switch node.op {
        case .conv:
            guard let output, let weights = shape(node.input(1)), weights.count >= 2 else { return 0 }
            return product(output) * product(weights.dropFirst())
        case .convTranspose:
            guard let input, let weights = shape(node.input(1)), weights.count >= 2, input.count >= 2 else { return 0 }
            return product(input) * product(weights.dropFirst())
        case .gemm:
            guard let input, let output, input.count == 2 else { return 0 }
            let transposed = ((try? node.attributes.int("transA", default: 0)) ?? 0) != 0
            return product(output) * (transposed ? input[0] : input[1])
        case .matMul:
            guard let input, let output, let depth = input.last else { return 0 }
            return product(output) * depth
        case .maxPool, .averagePool:
            guard let output, let kernel = try? node.attributes.ints("kernel_shape") else { return 0 }
            return product(output) * product(kernel)
        case .globalAveragePool, .globalMaxPool:
            return input.map(product) ?? 0
        case .lstm, .gru:
            return recurrent(node, input: input)
        case .dpuSubgraph:
            guard let body = try? node.attributes.graph("body") else { return 0 }
            return body.nodes.reduce(0) { $0 + macs($1, in: body) }
        default:
            return 0
        }
    }

    /// `seq · batch · directions · gates · hidden · (input + hidden)`.
    private static func recurrent(_ node: Node, input: [Int]?) -> Int {
        guard let input, input.count == 3, let hidden = (try? node.attributes.int("hidden_size")) ?? nil else { return 0 }
        let layout = (try? node.attributes.int("layout", default: 0)) ?? 0
        let (steps, batch) = layout == 0 ? (input[0], input[1]) : (input[1], input[0])
        let directions = ((try? node.attributes.string("direction", default: "forward")) ?? "forward") == "bidirectional" ? 2 : 1
        let gates = node.op == .lstm ? 4 : 3
        return steps * batch * directions * gates * hidden * (input[2] + hidden)
    }

    private static func product<C: Collection<Int>>(_ values: C) -> Int {
        values.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
    }
}
