import KilnCore

/// Shape and dtype inference over a whole graph.
public enum ShapeInference {
    /// Infers every value's type, in node order.
    ///
    /// Declared types of graph inputs are kept unless `bindings` gives a shape for that
    /// input (by name), which binds symbolic dimensions to numbers. Declared types of
    /// other values are refined: an inferred known dimension replaces an unknown one.
    ///
    /// - Throws: `shapeMismatch` when a node's inputs can never be valid.
    public static func infer(_ graph: Graph, bindings: [String: [Int]] = [:]) throws -> Graph {
        var graph = graph
        var constants = [Tensor?](repeating: nil, count: graph.values.count)
        var shapeValues = [[Dim]?](repeating: nil, count: graph.values.count)
        for (id, tensor) in graph.initializers {
            constants[id.index] = tensor
            graph[id].type = TensorType(dtype: tensor.dtype, shape: tensor.shape)
        }
        for input in graph.inputs {
            if let shape = bindings[graph[input].name] {
                graph[input].type.shape = shape.map(Dim.known)
            }
        }
        for node in graph.nodes {
            let context = ShapeContext(
                node: node,
                inputTypes: node.inputs.map { $0.map { graph[$0].type } },
                constants: node.inputs.map { $0.flatMap { constants[$0.index] } },
                shapeValues: node.inputs.map { $0.flatMap { shapeValues[$0.index] } })
            let inferred: [InferredOutput]
            if let rule = ShapeRules.table[node.op] {
                do {
                    inferred = try rule(context)
                } catch let error as KilnError {
                    throw KilnError(error.code, "[\(node.op)] node '\(node.name)': \(error.message)")
                }
            } else {
                inferred = []
            }
            for (index, output) in node.outputs.enumerated() {
                guard let output, index < inferred.count else { continue }
                graph[output].type = merge(declared: graph[output].type, inferred: inferred[index].type)
                shapeValues[output.index] = inferred[index].shapeValue
            }
        }
        return graph
    }

    /// Combines a declared type with an inferred one, preferring what is known.
    static func merge(declared: TensorType, inferred: TensorType) -> TensorType {
        let dtype = inferred.dtype ?? declared.dtype
        guard let inferredShape = inferred.shape else { return TensorType(dtype: dtype, shape: declared.shape) }
        guard let declaredShape = declared.shape, declaredShape.count == inferredShape.count else {
            return TensorType(dtype: dtype, shape: inferredShape)
        }
        let shape = zip(declaredShape, inferredShape).map { declared, inferred -> Dim in
            switch (declared, inferred) {
            case (_, .known): inferred
            case (.known, _): declared
            case (.symbol, .unknown): declared
            default: inferred
            }
        }
        return TensorType(dtype: dtype, shape: shape)
    }
}
