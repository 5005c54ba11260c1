extension ShapeRules {
    /// Shape rules of the NN family.
    static let nn: [OpKind: ShapeRule] = [:]
}
