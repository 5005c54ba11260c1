import KilnCore
import KilnIR

/// Applies a list of ``RewriteRule``s to a graph until none applies (a fixed point), and
/// counts how often each rule fired.
///
/// **Order.** Nodes are visited from the graph's outputs back to its inputs, so a rule
/// rooted at a consumer sees its producers before any rule has rewritten them: the larger
/// pattern (`add(matmul(x, w), b)`) is tried before the smaller one inside it
/// (`matmul(x, w)`). At each node, rules are tried from the **last to the first**: list
/// general rules first and more specific ones after them, and the specific one wins (as in
/// TVM's `register_patterns`, where later patterns take priority).
///
/// **After each rewrite** the graph is re-sorted topologically and nodes nothing reads
/// are dropped (the interior of the matched pattern), then matching starts again from the
/// outputs. When no rule applies, shapes are re-inferred if anything changed.
///
/// **Graph output names never change.** An alias of a graph output renames the aliased
/// value to the output's name; when that is not possible (the value is a graph input,
/// another output, an initializer, or read by name from a subgraph) the rewrite is skipped.
///
/// Subgraphs of `If`/`Loop` are not rewritten.
///
/// ```swift
/// let result = try Rewriter(RecognizeActivations.rules).rewrite(graph)
/// print(result.hits)   // ["mul(x, sigmoid(x)) -> silu(x)": 6]
/// ```
public struct Rewriter: Sendable {
    /// The rules, general first, specific last.
    public let rules: [RewriteRule]

    /// Creates a rewriter.
    public init(_ rules: [RewriteRule]) {
        self.rules = rules
    }

    /// Rewrites `graph` to a fixed point.
    ///
    /// The number of rewrites is bounded (a few per node): rules that undo each other stop
    /// there with ``RewriteResult/isConverged`` false instead of looping forever.
    ///
    /// - Throws: what a rule throws; `verificationFailed` when a rule's replacement leaves
    ///   an output that something reads undefined (a bug in the rule); `shapeMismatch`
    ///   from the final shape inference.
    public func rewrite(_ graph: Graph) throws -> RewriteResult {
        var graph = graph
        var hits: [String: Int] = [:]
        var budget = 64 + 8 * graph.nodes.count
        var isConverged = true
        search: while true {
            let view = RewriteView(graph)
            for index in graph.nodes.indices.reversed() {
                let node = graph.nodes[index]
                for rule in rules.reversed() {
                    guard let replacement = try rule.match(node, view),
                        let rewritten = try apply(replacement, at: index, in: view, rule: rule)
                    else { continue }
                    graph = rewritten
                    hits[rule.name, default: 0] += 1
                    budget -= 1
                    guard budget > 0 else {
                        isConverged = false
                        break search
                    }
                    continue search
                }
            }
            break
        }
        if !hits.isEmpty { graph = try ShapeInference.infer(graph) }
        return RewriteResult(graph: graph, hits: hits, isConverged: isConverged)
    }

    /// The graph with node `index` replaced, or `nil` when the aliases cannot keep the
    /// graph's output names.
    private func apply(_ replacement: Replacement, at index: Int, in view: RewriteView, rule: RewriteRule) throws
        -> Graph?
    {
        let root = view.graph.nodes[index]
        var renamed = Set<ValueID>()
        for (output, value) in replacement.aliases {
            if view.isCaptured(output) { return nil }
            // A value can take one graph output's name, not two.
            if view.isGraphOutput(output) && (!view.canTakeOutputName(value) || !renamed.insert(value).inserted) {
                return nil
            }
        }
        let defined = Set(replacement.nodes.flatMap { $0.outputs.compactMap { $0 } })
        for case let output? in root.outputs
        where !defined.contains(output) && replacement.aliases[output] == nil && view.isRead(output) {
            throw KilnError(
                .verificationFailed,
                "rewrite '\(rule.name)' on node '\(root.name)' leaves '\(view.graph[output].name)' undefined")
        }
        var graph = view.graph
        for value in replacement.newValues { graph.addValue(value) }
        graph.initializers.merge(replacement.newInitializers) { _, new in new }
        graph.nodes.replaceSubrange(index...index, with: replacement.nodes)
        for (output, value) in replacement.aliases.sorted(by: { $0.key < $1.key }) {
            if view.isGraphOutput(output) {
                let name = graph[output].name
                graph[output].name = graph.uniqueName(name + "_replaced")
                graph[value].name = name
            }
            graph.replaceUses(of: output, with: value)
        }
        return try graph.topologicallySorted().compacted()
    }
}

/// What a ``Rewriter`` produced.
public struct RewriteResult: Sendable {
    /// The rewritten graph.
    public var graph: Graph
    /// How often each rule fired, by rule name (rules that never fired are absent).
    public var hits: [String: Int]
    /// `false` when the rewrite budget ran out before a fixed point (rules that undo each
    /// other); the graph is still valid and equivalent.
    public var isConverged: Bool

    /// The number of rewrites.
    public var totalHits: Int { hits.values.reduce(0, +) }
}
