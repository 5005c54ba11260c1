import KilnCore
import KilnIR

extension Evaluators {
    /// Evaluators of the DataMovement family.
    static let dataMovement: [OpKind: Evaluator] = [:]
}
