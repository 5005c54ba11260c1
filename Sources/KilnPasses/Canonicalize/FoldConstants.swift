import KilnCore
import KilnIR
import KilnInterpreter

extension Pass {
    /// Replaces every node whose inputs are all constants by initializers holding its
    /// results, computed with the interpreter's own evaluators (`Evaluators.table`), so a
    /// folded value is exactly what the node would have computed at run time. `Shape` and
    /// `Size` of a value whose shape is fully static fold too.
    ///
    /// Not folded: control flow and DPU regions (nodes with subgraphs), `Dropout` (random in
    /// training mode), `QuantizeLinear`/`DequantizeLinear` (a QDQ model states its
    /// quantization boundaries on purpose; folding would erase them), results larger than
    /// ``PassContext/maxFoldedElements`` in total, and nodes whose evaluation fails (the
    /// error is left for run time, where it names the inputs). An initializer that is also
    /// a graph input is only a default, not a constant.
    /// Folding repeats, with shapes re-inferred in between, until nothing changes; then
    /// nodes and values no graph output needs any more are dropped.
    public static let foldConstants = Pass("FoldConstants") { graph, context in
        let folder = ConstantFolder(threads: context.threads, maxElements: context.maxFoldedElements)
        return try folder.fold(graph)
    }
}

/// The constant folder behind ``Pass/foldConstants``.
struct ConstantFolder {
    /// Ops never evaluated at compile time.
    static let neverFolded: Set<OpKind> = OpKind.withSubgraphs.union([.dropout, .quantizeLinear, .dequantizeLinear])

    let threads: Int
    let maxElements: Int

    func fold(_ graph: Graph) throws -> Graph {
        var graph = graph
        while true {
            var kept: [Node] = []
            var changed = false
            let graphInputs = Set(graph.inputs)
            for node in graph.nodes {
                if let results = folded(node, in: graph, graphInputs: graphInputs) {
                    for (id, tensor) in results { graph.initializers[id] = tensor }
                    changed = true
                } else {
                    kept.append(node)
                }
            }
            graph.nodes = kept
            guard changed else { break }
            graph = try ShapeInference.infer(graph)
        }
        return graph.compacted()
    }

    /// The node's results by output, or `nil` when it stays.
    private func folded(_ node: Node, in graph: Graph, graphInputs: Set<ValueID>) -> [(ValueID, Tensor)]? {
        guard !Self.neverFolded.contains(node.op) else { return nil }
        if let result = foldedShape(node, in: graph) { return result }
        var operands: [Tensor?] = []
        for input in node.inputs {
            guard let input else {
                operands.append(nil)
                continue
            }
            guard !graphInputs.contains(input), let tensor = graph.initializers[input] else { return nil }
            operands.append(tensor)
        }
        // Skip results the inferred types already show to be too large.
        let known = node.outputs.compactMap { $0.flatMap { graph[$0].type.staticShape }.map(Tensor.elementCount) }
        guard known.reduce(0, +) <= maxElements, let evaluator = Evaluators.table[node.op] else { return nil }
        let context = EvalContext(threads: threads) { body, _ in
            throw KilnError(.invalidModel, "subgraph '\(body.name)' is never constant-folded")
        }
        guard let results = try? evaluator(node, operands, context) else { return nil }
        var folded: [(ValueID, Tensor)] = []
        for (slot, output) in node.outputs.enumerated() {
            guard let output else { continue }
            guard slot < results.count, let tensor = results[slot] else { return nil }
            folded.append((output, tensor))
        }
        guard folded.map(\.1.count).reduce(0, +) <= maxElements else { return nil }
        return folded
    }

    /// `Shape(x)` / `Size(x)` of an `x` whose shape is fully static (whether or not `x` is
    /// constant).
    private func foldedShape(_ node: Node, in graph: Graph) -> [(ValueID, Tensor)]? {
        guard node.op == .shape || node.op == .size, node.outputs.count == 1, let output = node.outputs[0],
            let input = node.input(0), let shape = graph[input].type.staticShape
        else { return nil }
        if node.op == .size {
            return [(output, Tensor(scalar: Int64(Tensor.elementCount(shape))))]
        }
        // Shape-15's `start`/`end`: negative counts from the back, both clamped to [0, rank].
        let rank = shape.count
        func clamped(_ index: Int) -> Int { Swift.min(Swift.max(index < 0 ? index + rank : index, 0), rank) }
        guard let start = try? node.attributes.int("start", default: 0),
            let end = try? node.attributes.int("end", default: rank)
        else { return nil }
        let dims = shape[clamped(start)..<Swift.max(clamped(start), clamped(end))].map { Int64($0) }
        return [(output, Tensor(shape: [dims.count], scalars: dims))]
    }
}
