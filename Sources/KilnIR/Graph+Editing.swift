import KilnCore

extension Graph {
    /// Every read of `old` (node inputs and graph outputs) now reads `new`.
    public mutating func replaceUses(of old: ValueID, with new: ValueID) {
        for index in nodes.indices {
            for slot in nodes[index].inputs.indices where nodes[index].inputs[slot] == old {
                nodes[index].inputs[slot] = new
            }
        }
        for slot in outputs.indices where outputs[slot] == old { outputs[slot] = new }
    }

    /// Adds an initializer value and returns its id; the name is made unique.
    @discardableResult
    public mutating func addInitializer(_ tensor: Tensor, name: String) -> ValueID {
        let id = addValue(Value(name: uniqueName(name), type: TensorType(dtype: tensor.dtype, shape: tensor.shape)))
        initializers[id] = tensor
        return id
    }

    /// `base`, or `base_1`, `base_2`, … — the first name no value has.
    public func uniqueName(_ base: String) -> String {
        var taken = Set(values.map(\.name))
        return Graph.claimName(base, in: &taken)
    }

    /// `base`, or `base_1`, `base_2`, … — the first name not in `taken`, which is added to it
    /// (for passes that name many new values: one set instead of a scan per name).
    public static func claimName(_ base: String, in taken: inout Set<String>) -> String {
        var name = base
        var suffix = 1
        while taken.contains(name) {
            name = "\(base)_\(suffix)"
            suffix += 1
        }
        taken.insert(name)
        return name
    }

    /// The graph without the nodes in `removed`, nor nodes no graph output depends on
    /// (nodes with subgraphs count as used only through their outputs), nor values and
    /// initializers that nothing reads or defines any more. Ids are renumbered; graph
    /// inputs, outputs and captures keep their order. Names are unchanged.
    public func compacted(removing removed: Set<NodeID> = []) -> Graph {
        // Live nodes: backwards from the outputs.
        let producer = producers()
        var live = Set<Int>()
        var liveValues = Set(outputs.map(\.index))
        var stack = outputs
        while let value = stack.popLast() {
            guard let node = producer[value.index], !removed.contains(node), !live.contains(node.index) else { continue }
            live.insert(node.index)
            for case let input? in nodes[node.index].inputs where liveValues.insert(input.index).inserted {
                stack.append(input)
            }
            for name in Self.captureNames(of: nodes[node.index]) {
                if let id = valueID(named: name), liveValues.insert(id.index).inserted { stack.append(id) }
            }
        }
        var keep = liveValues
        for id in inputs + captures { keep.insert(id.index) }
        for index in live {
            for case let output? in nodes[index].outputs { keep.insert(output.index) }
        }
        var remap = [Int: ValueID]()
        var result = Graph(name: name)
        for (index, value) in values.enumerated() where keep.contains(index) {
            remap[index] = result.addValue(value)
        }
        func mapped(_ id: ValueID) -> ValueID {
            guard let new = remap[id.index] else { preconditionFailure("compacted: value \(id) dropped while in use") }
            return new
        }
        result.inputs = inputs.map(mapped)
        result.captures = captures.map(mapped)
        result.outputs = outputs.map(mapped)
        for (id, tensor) in initializers where keep.contains(id.index) { result.initializers[mapped(id)] = tensor }
        for (index, node) in nodes.enumerated() where live.contains(index) {
            var copy = node
            copy.inputs = node.inputs.map { $0.map(mapped) }
            copy.outputs = node.outputs.map { output in output.flatMap { keep.contains($0.index) ? mapped($0) : nil } }
            result.addNode(copy)
        }
        return result
    }

    /// The outer names a node's subgraphs (and theirs, recursively) capture.
    public static func captureNames(of node: Node) -> [String] {
        guard OpKind.withSubgraphs.contains(node.op) else { return [] }
        var names: [String] = []
        func visit(_ body: Graph) {
            names += body.captures.map { body[$0].name }
            for inner in body.nodes {
                for case .graph(let nested) in inner.attributes.values.values { visit(nested) }
            }
        }
        for case .graph(let body) in node.attributes.values.values { visit(body) }
        return names
    }

    /// Nodes in a valid topological order (stable: the current order where it is valid).
    ///
    /// - Throws: `verificationFailed` when the nodes form a cycle.
    public func topologicallySorted() throws -> Graph {
        let producer = producers()
        var state = [UInt8](repeating: 0, count: nodes.count)  // 0 new, 1 on the stack, 2 placed
        var order: [Int] = []
        // Iterative depth-first search (deep graphs must not exhaust a test thread's stack).
        for root in nodes.indices where state[root] == 0 {
            var stack: [(node: Int, nextInput: Int)] = [(root, 0)]
            state[root] = 1
            while let (index, next) = stack.last {
                let inputs = nodes[index].inputs
                if next < inputs.count {
                    stack[stack.count - 1].nextInput += 1
                    guard let input = inputs[next], let source = producer[input.index]?.index else { continue }
                    if state[source] == 1 {
                        throw KilnError(.verificationFailed, "graph '\(name)': cycle through node '\(nodes[source].name)'")
                    }
                    if state[source] == 0 {
                        state[source] = 1
                        stack.append((source, 0))
                    }
                } else {
                    stack.removeLast()
                    state[index] = 2
                    order.append(index)
                }
            }
        }
        var sorted = self
        sorted.nodes = order.map { nodes[$0] }
        return sorted
    }
}
