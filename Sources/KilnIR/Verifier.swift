import KilnCore

/// Checks the IR's structural invariants.
public enum Verifier {
    /// Verifies `graph` and, recursively, its subgraphs: every value is defined once
    /// (input, initializer, capture or node output) before it is used, ids are in range,
    /// names are unique, outputs are defined.
    ///
    /// - Throws: `verificationFailed` naming the node and the broken rule.
    public static func verify(_ graph: Graph) throws {
        func fail(_ message: String) -> KilnError {
            KilnError(.verificationFailed, "graph '\(graph.name)': \(message)")
        }
        let count = graph.values.count
        var defined = [Bool](repeating: false, count: count)
        func define(_ id: ValueID, _ what: String) throws {
            guard id.index >= 0, id.index < count else { throw fail("\(what) refers to missing value \(id)") }
            guard !defined[id.index] else {
                throw fail("value '\(graph[id].name)' is defined twice (\(what))")
            }
            defined[id.index] = true
        }
        var names = Set<String>()
        for value in graph.values where !names.insert(value.name).inserted {
            throw fail("two values are named '\(value.name)'")
        }
        for id in graph.inputs { try define(id, "graph input") }
        for id in graph.initializers.keys.sorted() where !defined[id.index] { try define(id, "initializer") }
        for id in graph.captures { try define(id, "capture") }
        for node in graph.nodes {
            for case let input? in node.inputs {
                guard input.index >= 0, input.index < count else {
                    throw fail("node '\(node.name)' reads missing value \(input)")
                }
                guard defined[input.index] else {
                    throw fail("node '\(node.name)' reads '\(graph[input].name)' before it is defined")
                }
            }
            for case let output? in node.outputs { try define(output, "output of node '\(node.name)'") }
            for case .graph(let body) in node.attributes.values.values { try verify(body) }
        }
        for output in graph.outputs {
            guard output.index >= 0, output.index < count, defined[output.index] else {
                throw fail("graph output \(output) is never defined")
            }
        }
    }
}
