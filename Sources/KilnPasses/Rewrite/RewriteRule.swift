import KilnIR

/// One local rewrite: a name and a function that looks at a node (and the graph around
/// it) and returns what replaces the node, or `nil` when the rule does not apply.
///
/// Rules are values kept in lists; a ``Rewriter`` applies a list to a fixed point. The
/// algebra goes in the name and in a trailing comment where the rule is listed:
///
/// ```swift
/// static let rules: [RewriteRule] = [
///     RewriteRule(name: "clip(x, 0, 6) -> relu6(x)", match: clipAsRelu6),  // min(max(x, 0), 6)
/// ]
/// ```
///
/// A rule only reads: it builds its result in a ``Replacement`` (which hands out ids for
/// new values) and the rewriter applies it. A rule that is not sure the rewrite is exact
/// returns `nil`.
public struct RewriteRule: Sendable {
    /// What the rule does, as algebra (`"mul(x, sigmoid(x)) -> silu(x)"`); the key of the
    /// hit counts.
    public let name: String
    /// Looks at `node` and returns its replacement, or `nil`.
    public let match: @Sendable (_ node: Node, _ view: RewriteView) throws -> Replacement?

    /// Creates a rule.
    public init(name: String, match: @escaping @Sendable (_ node: Node, _ view: RewriteView) throws -> Replacement?) {
        self.name = name
        self.match = match
    }
}
