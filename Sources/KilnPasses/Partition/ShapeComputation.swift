import KilnCore
import KilnIR

/// Finds the nodes that compute shapes rather than data: they always stay on the CPU.
///
/// Two directions meet here. Forward: `Shape` and `Size` produce shape values, and an
/// integer-valued node whose every non-constant input is a shape value produces one too
/// (`Gather`, `Concat`, `Unsqueeze`, `Slice`, `Range`, arithmetic on them). Backward: a
/// node whose results are only ever used as shape operands (the target shape of
/// `Reshape`, `Expand`'s shape, `Slice` bounds, `Resize` sizes, …) or by other
/// shape-computing nodes is one too, even when it starts from constants.
enum ShapeComputation {
    /// The input slots each op reads as a shape, index list or count, never as data.
    static let shapeOperands: [OpKind: Set<Int>] = [
        .reshape: [1], .expand: [1], .tile: [1], .constantOfShape: [0], .range: [0, 1, 2],
        .slice: [1, 2, 3, 4], .squeeze: [1], .unsqueeze: [1], .resize: [1, 2, 3], .pad: [1, 3],
        .split: [1], .oneHot: [1], .topK: [1], .cumSum: [1],
        .reduceSum: [1], .reduceMean: [1], .reduceMax: [1], .reduceMin: [1], .reduceProd: [1],
        .reduceL1: [1], .reduceL2: [1], .reduceLogSum: [1], .reduceLogSumExp: [1], .reduceSumSquare: [1],
    ]

    /// Ops that read only the shape of their data input.
    private static let shapeReaders: Set<OpKind> = [.shape, .size]

    /// The indices of the shape-computing nodes of `facts.graph`.
    static func nodes(_ facts: GraphFacts) -> Set<Int> {
        let graph = facts.graph
        var isShapeValue = [Bool](repeating: false, count: graph.values.count)
        var result = Set<Int>()
        // Forward, in topological order.
        for (index, node) in graph.nodes.enumerated() {
            let forward: Bool
            if shapeReaders.contains(node.op) {
                forward = true
            } else {
                let operands = node.inputs.compactMap { $0 }.filter { !facts.isConstant($0) }
                let integerResults = node.outputs.compactMap { $0 }.allSatisfy { isInteger(graph[$0].type.dtype) }
                forward = !operands.isEmpty && operands.allSatisfy { isShapeValue[$0.index] } && integerResults
                    && !OpKind.withSubgraphs.contains(node.op)
            }
            if forward {
                result.insert(index)
                for case let output? in node.outputs { isShapeValue[output.index] = true }
            }
        }
        // Backward, in reverse topological order.
        for (index, node) in graph.nodes.enumerated().reversed() where !result.contains(index) {
            guard !OpKind.withSubgraphs.contains(node.op) else { continue }
            let outputs = node.outputs.compactMap { $0 }
            var used = false
            let onlyShapes = outputs.allSatisfy { output in
                if facts.isGraphOutput[output.index] { return false }
                return facts.readers[output.index].allSatisfy { reader in
                    used = true
                    return isShapeUse(of: output, by: graph.nodes[reader]) || (result.contains(reader) && !shapeReaders.contains(graph.nodes[reader].op))
                }
            }
            if used && onlyShapes { result.insert(index) }
        }
        return result
    }

    /// Whether `reader` reads `value` only in shape-operand slots.
    private static func isShapeUse(of value: ValueID, by reader: Node) -> Bool {
        guard let slots = shapeOperands[reader.op] else { return false }
        let uses = reader.inputs.indices.filter { reader.inputs[$0] == value }
        return !uses.isEmpty && uses.allSatisfy(slots.contains)
    }

    private static func isInteger(_ dtype: DType?) -> Bool {
        guard let dtype else { return false }
        return dtype == .int64 || dtype == .int32
    }
}
