import KilnCore

extension ShapeRules {
    /// Shape rules of the control-flow family. Branch and body outputs carry the types the
    /// model declares for them; where the branches disagree a dimension becomes unknown.
    static let control: [OpKind: ShapeRule] = [
        .dpuSubgraph: { context in
            guard let body = try context.node.attributes.graph("body") else { return [] }
            return body.outputs.map { InferredOutput(body[$0].type) }
        },
        .if: { context in
            guard let thenBranch = try context.node.attributes.graph("then_branch"),
                let elseBranch = try context.node.attributes.graph("else_branch")
            else { return [] }
            let thenTypes = thenBranch.outputs.map { thenBranch[$0].type }
            let elseTypes = elseBranch.outputs.map { elseBranch[$0].type }
            return zip(thenTypes, elseTypes).map { InferredOutput(join($0, $1)) }
        },
        .loop: { context in
            guard let body = try context.node.attributes.graph("body") else { return [] }
            // Body outputs: condition, N loop-carried values, K scan outputs.
            let carried = max(0, context.node.inputs.count - 2)
            let bodyTypes = body.outputs.dropFirst().map { body[$0].type }
            return bodyTypes.enumerated().map { index, type in
                if index < carried {
                    return InferredOutput(join(context.type(index + 2), type))
                }
                let shape = type.shape.map { [Dim.unknown] + $0 }
                return InferredOutput(TensorType(dtype: type.dtype, shape: shape))
            }
        },
    ]

    /// The most precise type both `a` and `b` satisfy.
    static func join(_ a: TensorType, _ b: TensorType) -> TensorType {
        let dtype = a.dtype == b.dtype ? a.dtype : (a.dtype ?? b.dtype)
        guard let shapeA = a.shape, let shapeB = b.shape, shapeA.count == shapeB.count else {
            return TensorType(dtype: dtype, shape: nil)
        }
        return TensorType(dtype: dtype, shape: zip(shapeA, shapeB).map { $0 == $1 ? $0 : .unknown })
    }
}
