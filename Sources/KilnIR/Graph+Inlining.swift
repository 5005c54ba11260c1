import KilnCore

extension Graph {
    /// The graph with every `dpu_subgraph` node replaced by the nodes of its `body`
    /// (recursively), and for each node of the result whether it came from a body.
    ///
    /// A body's values carry the outer graph's names (partitioning keeps them), so the
    /// inlined nodes read and write the values they did before partitioning: body inputs
    /// and outputs become the composite node's operands and results, a body's constants
    /// become (or reuse, when equal) outer initializers of the same name, and values made
    /// inside take their body names (made unique only if the outer graph already defines
    /// them). A body output that is one of its inputs becomes an `identity` node.
    ///
    /// - Throws: `invalidModel` when a composite node has no body or its arity does not
    ///   match its body's.
    public func inliningDPUSubgraphs() throws -> (graph: Graph, isFromSubgraph: [Bool]) {
        guard nodes.contains(where: { $0.op == .dpuSubgraph }) else {
            return (self, [Bool](repeating: false, count: nodes.count))
        }
        var result = self
        result.nodes = []
        var isFromSubgraph: [Bool] = []
        var inliner = SubgraphInliner(graph: self)
        for node in nodes {
            guard node.op == .dpuSubgraph else {
                result.nodes.append(node)
                isFromSubgraph.append(false)
                continue
            }
            guard let body = try node.attributes.graph("body") else {
                throw KilnError(.invalidModel, "dpu_subgraph '\(node.name)' has no body")
            }
            let (flatBody, _) = try body.inliningDPUSubgraphs()
            let inlined = try inliner.inline(flatBody, of: node, into: &result)
            result.nodes += inlined
            isFromSubgraph += [Bool](repeating: true, count: inlined.count)
        }
        return (result, isFromSubgraph)
    }
}

/// Maps one body at a time into the outer graph.
private struct SubgraphInliner {
    /// Outer names and whether something in the outer graph defines them.
    var definedNames: [String: ValueID] = [:]
    var takenNames: Set<String>
    /// Every outer value by name (the first of a name), defined or not.
    let outerIDs: [String: ValueID]

    init(graph: Graph) {
        takenNames = Set(graph.values.map(\.name))
        var ids: [String: ValueID] = [:]
        for (index, value) in graph.values.enumerated() where ids[value.name] == nil {
            ids[value.name] = ValueID(index)
        }
        outerIDs = ids
        var defined = Set(graph.inputs + graph.captures + Array(graph.initializers.keys))
        for node in graph.nodes where node.op != .dpuSubgraph {
            for case let output? in node.outputs { defined.insert(output) }
        }
        for id in defined { definedNames[graph[id].name] = id }
    }

    mutating func inline(_ body: Graph, of node: Node, into outer: inout Graph) throws -> [Node] {
        guard body.inputs.count == node.inputs.count, body.outputs.count == node.outputs.count else {
            throw KilnError(
                .invalidModel,
                "dpu_subgraph '\(node.name)' has \(node.inputs.count) inputs and \(node.outputs.count) outputs, "
                    + "its body \(body.inputs.count) and \(body.outputs.count)")
        }
        var map: [ValueID: ValueID] = [:]
        for (bodyInput, operand) in zip(body.inputs, node.inputs) {
            guard let operand else {
                throw KilnError(.invalidModel, "dpu_subgraph '\(node.name)' has an omitted input")
            }
            map[bodyInput] = operand
        }
        for capture in body.captures {
            map[capture] = definedNames[body[capture].name] ?? outer.addValue(body[capture])
        }
        var extra: [Node] = []
        var resultFor: [ValueID: ValueID] = [:]
        for (index, (bodyOutput, result)) in zip(body.outputs, node.outputs).enumerated() {
            let outerResult = result ?? newValue(body[bodyOutput], in: &outer)
            if map[bodyOutput] != nil || resultFor[bodyOutput] != nil {
                // A pass-through (or twice-listed) output: copy it.
                extra.append(
                    Node(
                        name: "\(node.name)/output_\(index)", op: .identity, inputs: [bodyOutput],
                        outputs: [outerResult]))
            } else {
                resultFor[bodyOutput] = outerResult
            }
        }
        for (id, tensor) in body.initializers where map[id] == nil {
            let name = body[id].name
            if let existing = definedNames[name], outer.initializers[existing] == tensor {
                map[id] = existing
            } else {
                let fresh = newValue(body[id], in: &outer)
                outer.initializers[fresh] = tensor
                map[id] = fresh
            }
        }
        func mapped(_ id: ValueID) -> ValueID {
            if let outerID = map[id] { return outerID }
            let outerID = resultFor[id] ?? newValue(body[id], in: &outer)
            map[id] = outerID
            definedNames[outer[outerID].name] = outerID
            return outerID
        }
        var inlined: [Node] = []
        for var inner in body.nodes {
            inner.inputs = inner.inputs.map { $0.map(mapped) }
            inner.outputs = inner.outputs.map { $0.map(mapped) }
            inlined.append(inner)
        }
        for var copy in extra {
            copy.inputs = copy.inputs.map { $0.map(mapped) }
            inlined.append(copy)
        }
        return inlined
    }

    /// An outer value for a body value: its name when no outer definition has it.
    private mutating func newValue(_ value: Value, in outer: inout Graph) -> ValueID {
        var copy = value
        if definedNames[value.name] != nil {
            var suffix = 1
            while takenNames.contains("\(value.name)_\(suffix)") { suffix += 1 }
            copy.name = "\(value.name)_\(suffix)"
        } else if let unused = outerIDs[value.name] {
            // The outer graph still lists the value (partitioning keeps ids) but nothing defines it.
            definedNames[value.name] = unused
            return unused
        }
        takenNames.insert(copy.name)
        let id = outer.addValue(copy)
        definedNames[copy.name] = id
        return id
    }
}
