import KilnCore
import KilnIR

/// Structural comparison of graphs by value name (ids and value order may differ), for
/// round-trip tests.
public enum GraphComparison {
    /// The differences between `actual` and `expected`, one line each; empty when they
    /// are structurally equal: the same inputs, outputs and initializers (by name, type and
    /// tensor), and the same nodes in the same order (op, operand and result names,
    /// attributes; subgraphs compared recursively).
    ///
    /// - Parameter compareNodeNames: whether node names must agree too (generated nodes
    ///   are named by whoever generates them).
    public static func differences(_ actual: Graph, _ expected: Graph, compareNodeNames: Bool = true) -> [String] {
        var lines: [String] = []
        func names(_ graph: Graph, _ ids: [ValueID]) -> [String] { ids.map { graph[$0].name } }
        func typed(_ graph: Graph, _ ids: [ValueID]) -> [String] { ids.map { "\(graph[$0].name): \(graph[$0].type)" } }
        if typed(actual, actual.inputs) != typed(expected, expected.inputs) {
            lines.append("inputs \(typed(actual, actual.inputs)) != \(typed(expected, expected.inputs))")
        }
        if typed(actual, actual.outputs) != typed(expected, expected.outputs) {
            lines.append("outputs \(typed(actual, actual.outputs)) != \(typed(expected, expected.outputs))")
        }
        if Set(names(actual, actual.captures)) != Set(names(expected, expected.captures)) {
            lines.append("captures \(names(actual, actual.captures)) != \(names(expected, expected.captures))")
        }
        let actualConstants = usedInitializers(actual)
        let expectedConstants = usedInitializers(expected)
        for name in Set(actualConstants.keys).union(expectedConstants.keys).sorted()
        where actualConstants[name] != expectedConstants[name] {
            let describe = { (tensor: Tensor?) in tensor.map { "\($0.dtype)\($0.shape)" } ?? "none" }
            lines.append(
                "initializer \(name): \(describe(actualConstants[name])) != \(describe(expectedConstants[name]))")
        }
        guard actual.nodes.count == expected.nodes.count else {
            lines.append(
                "\(actual.nodes.count) nodes \(actual.nodes.map(\.op)) != \(expected.nodes.count) \(expected.nodes.map(\.op))"
            )
            return lines
        }
        for (a, e) in zip(actual.nodes, expected.nodes) {
            let label = "node '\(e.name)' (\(e.op))"
            if a.op != e.op { lines.append("\(label): op \(a.op)") }
            if compareNodeNames, a.name != e.name { lines.append("\(label): named '\(a.name)'") }
            let operands = { (graph: Graph, ids: [ValueID?]) in ids.map { $0.map { graph[$0].name } ?? "_" } }
            if operands(actual, a.inputs) != operands(expected, e.inputs) {
                lines.append("\(label): inputs \(operands(actual, a.inputs)) != \(operands(expected, e.inputs))")
            }
            let results = { (graph: Graph, ids: [ValueID?]) in
                ids.map { $0.map { "\(graph[$0].name): \(graph[$0].type)" } ?? "_" }
            }
            if results(actual, a.outputs) != results(expected, e.outputs) {
                lines.append("\(label): outputs \(results(actual, a.outputs)) != \(results(expected, e.outputs))")
            }
            for key in Set(a.attributes.values.keys).union(e.attributes.values.keys).sorted() {
                switch (a.attributes[key], e.attributes[key]) {
                case (.graph(let bodyA)?, .graph(let bodyB)?):
                    lines += differences(bodyA, bodyB, compareNodeNames: compareNodeNames).map {
                        "\(label).\(key): \($0)"
                    }
                case (let x, let y) where x != y:
                    lines.append(
                        "\(label): attribute \(key) \(x.map { "\($0)" } ?? "absent") != \(y.map { "\($0)" } ?? "absent")"
                    )
                default: break
                }
            }
        }
        return lines
    }

    /// Initializers some node or graph output reads, by name.
    private static func usedInitializers(_ graph: Graph) -> [String: Tensor] {
        var used = Set(graph.outputs)
        for node in graph.nodes { for case let id? in node.inputs { used.insert(id) } }
        var result: [String: Tensor] = [:]
        for (id, tensor) in graph.initializers where used.contains(id) { result[graph[id].name] = tensor }
        return result
    }
}
