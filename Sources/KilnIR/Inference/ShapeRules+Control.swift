extension ShapeRules {
    /// Shape rules of the Control family.
    static let control: [OpKind: ShapeRule] = [:]
}
