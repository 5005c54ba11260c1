import KilnCore
import KilnIR

extension Evaluators {
    /// Evaluators of the NN family.
    static let nn: [OpKind: Evaluator] = [:]
}
