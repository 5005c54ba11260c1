/// The table of shape rules, one entry per op, assembled from the op-family files
/// (`ShapeRules+<Family>.swift`). An op without a rule infers unknown outputs.
public enum ShapeRules {
    /// Every rule, by op.
    public static let table: [OpKind: ShapeRule] = {
        var table: [OpKind: ShapeRule] = [:]
        for family in [elementwise, nn, dataMovement, control] {
            table.merge(family) { _, new in new }
        }
        return table
    }()
}
