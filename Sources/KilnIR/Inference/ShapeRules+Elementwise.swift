extension ShapeRules {
    /// Shape rules of the Elementwise family.
    static let elementwise: [OpKind: ShapeRule] = [:]
}
