import KilnCore
import KilnIR

extension Evaluators {
    /// Evaluators of the Control family.
    static let control: [OpKind: Evaluator] = [:]
}
