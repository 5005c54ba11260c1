import KilnCore
import KilnIR

extension Evaluators {
    /// Evaluators of the Elementwise family.
    static let elementwise: [OpKind: Evaluator] = [:]
}
