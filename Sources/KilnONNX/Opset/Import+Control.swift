import KilnCore
import KilnIR

extension OpImporters {
    /// Importers of the control-flow family: `If` and `Loop` on tensors. Versions after 11
    /// only widen the types (sequences, optionals) that Kiln rejects when it meets them.
    static let control: [OpImporter] = [
        OpImporter("If", .if, versions: [1, 11, 13, 16, 19, 21, 23, 24, 25]) { node in
            guard node.attributes.has("then_branch"), node.attributes.has("else_branch") else {
                throw node.error(.invalidModel, "If needs then_branch and else_branch")
            }
        },
        OpImporter("Loop", .loop, versions: [1, 11, 13, 16, 19, 21, 23, 24, 25]) { node in
            guard node.attributes.has("body") else {
                throw node.error(.invalidModel, "Loop needs a body")
            }
        },
    ]
}
