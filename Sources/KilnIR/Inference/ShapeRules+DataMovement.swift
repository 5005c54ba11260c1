extension ShapeRules {
    /// Shape rules of the DataMovement family.
    static let dataMovement: [OpKind: ShapeRule] = [:]
}
