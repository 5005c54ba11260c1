import KilnCore
import KilnIR

extension Pass {
    /// Replaces each top-level `Loop` that runs a known number of times by that many copies
    /// of its body: loop-carried values flow from one copy to the next, the iteration number
    /// becomes a constant per copy, and each scan output becomes the `Concat` of its
    /// per-iteration values (each `Unsqueeze`d on a new leading axis). The copies call the
    /// same kernels on the same operands as the loop would, so the results are the same bits
    /// (stacking is a copy); what changes is that the graph no longer has control flow, so
    /// the graph executor can run it and constants fold through it.
    ///
    /// Unrolled when the trip count `M` is a constant from 1 to ``UnrollLoops/maxTrips``,
    /// the copies stay within ``UnrollLoops/maxNodes`` nodes, the initial condition is absent
    /// or a constant true, and the body's condition output is provably true on every
    /// iteration: the body's condition input itself (passed on, or through `Identity`), or
    /// a constant true. A body with control flow of its own stays a loop.
    public static let unrollLoops = Pass("UnrollLoops") { graph, _ in
        try UnrollLoops.unroll(graph)
    }
}

/// The unroller behind ``Pass/unrollLoops``.
package enum UnrollLoops {
    /// Most iterations unrolled.
    package static let maxTrips = 64
    /// Most nodes the copies of one body may add.
    package static let maxNodes = 1024

    static func unroll(_ graph: Graph) throws -> Graph {
        guard graph.nodes.contains(where: { $0.op == .loop }) else { return graph }
        var result = graph
        result.nodes = []
        var names = Set(graph.values.map(\.name))
        var byName: [String: ValueID] = [:]
        for (index, value) in graph.values.enumerated() { byName[value.name] = ValueID(index) }
        for node in graph.nodes {
            guard node.op == .loop, let plan = try Plan(node, in: graph, byName: byName) else {
                result.nodes.append(node)
                continue
            }
            plan.emit(into: &result, names: &names)
        }
        return result
    }

    /// What one unrollable loop needs.
    private struct Plan {
        let node: Node
        let body: Graph
        let trips: Int
        /// Outer values the body's captures read, by body value.
        let captures: [ValueID: ValueID]

        init?(_ node: Node, in graph: Graph, byName: [String: ValueID]) throws {
            guard let body = try node.attributes.graph("body"), !body.hasControlFlow,
                let tripInput = node.input(0), !graph.inputs.contains(tripInput),
                let trips = graph.initializers[tripInput]?.integerScalars(), trips.count == 1,
                (1...UnrollLoops.maxTrips).contains(trips[0]), trips[0] * body.nodes.count <= UnrollLoops.maxNodes
            else { return nil }
            if let conditionInput = node.input(1) {
                guard !graph.inputs.contains(conditionInput), let condition = graph.initializers[conditionInput],
                    Self.isTrue(condition)
                else { return nil }
            }
            let carried = node.inputs.count - 2
            guard carried >= 0, node.inputs.dropFirst(2).allSatisfy({ $0 != nil }), body.inputs.count == 2 + carried,
                body.outputs.count >= 1 + carried, node.outputs.count <= body.outputs.count - 1,
                Self.conditionStaysTrue(body)
            else { return nil }
            var captures: [ValueID: ValueID] = [:]
            for capture in body.captures {
                guard let outer = byName[body[capture].name] else { return nil }
                captures[capture] = outer
            }
            // Every body operand and output is defined before it is read (the copies look
            // each one up).
            var defined = Set(body.inputs + body.captures + Array(body.initializers.keys))
            for bodyNode in body.nodes {
                guard bodyNode.inputs.allSatisfy({ $0.map(defined.contains) ?? true }) else { return nil }
                for case let output? in bodyNode.outputs { defined.insert(output) }
            }
            guard body.outputs.allSatisfy(defined.contains) else { return nil }
            self.node = node
            self.body = body
            self.trips = trips[0]
            self.captures = captures
        }

        /// Whether the body's condition output is its condition input or a constant true.
        private static func conditionStaysTrue(_ body: Graph) -> Bool {
            let conditionIn = body.inputs[1]
            let conditionOut = body.outputs[0]
            if conditionOut == conditionIn { return true }
            if let constant = body.initializers[conditionOut], !body.inputs.contains(conditionOut) {
                return isTrue(constant)
            }
            return body.nodes.contains { $0.op == .identity && $0.outputs.first == conditionOut && $0.input(0) == conditionIn }
        }

        private static func isTrue(_ tensor: Tensor) -> Bool {
            guard tensor.count == 1 else { return false }
            if tensor.dtype == .bool { return tensor.scalars(as: Bool.self)[0] }
            return tensor.integerScalars().map { $0[0] != 0 } ?? false
        }

        /// Appends the copies, the stacked scans and the final carried values to `graph`.
        func emit(into graph: inout Graph, names: inout Set<String>) {
            func fresh(_ base: String) -> String { Graph.claimName(base, in: &names) }
            func constant(_ tensor: Tensor, _ base: String) -> ValueID {
                let id = graph.addValue(Value(name: fresh(base), type: TensorType(dtype: tensor.dtype, shape: tensor.shape)))
                graph.initializers[id] = tensor
                return id
            }
            let carriedCount = node.inputs.count - 2
            let scanCount = node.outputs.count - carriedCount
            var bodyConstants: [ValueID: ValueID] = [:]
            for (id, tensor) in body.initializers where !body.inputs.contains(id) {
                bodyConstants[id] = constant(tensor, "\(node.name)_\(body[id].name)")
            }
            let alwaysTrue = constant(Tensor(scalar: true), "\(node.name)_cond")
            var carried = node.inputs.dropFirst(2).map { $0! }
            var scans = [[ValueID]](repeating: [], count: max(0, scanCount))
            for trip in 0..<trips {
                var map = captures.merging(bodyConstants) { first, _ in first }
                map[body.inputs[0]] = constant(Tensor(scalar: Int64(trip)), "\(node.name)_iteration\(trip)")
                map[body.inputs[1]] = alwaysTrue
                for (slot, value) in carried.enumerated() { map[body.inputs[2 + slot]] = value }
                for bodyNode in body.nodes {
                    var copy = bodyNode
                    copy.name = fresh("\(bodyNode.name)_iteration\(trip)")
                    copy.inputs = bodyNode.inputs.map { $0.map { map[$0]! } }
                    copy.outputs = bodyNode.outputs.map { output in
                        output.map { output in
                            let id = graph.addValue(Value(name: fresh("\(body[output].name)_iteration\(trip)"), type: body[output].type))
                            map[output] = id
                            return id
                        }
                    }
                    graph.addNode(copy)
                }
                carried = (0..<carriedCount).map { map[body.outputs[1 + $0]]! }
                for scan in scans.indices { scans[scan].append(map[body.outputs[1 + carriedCount + scan]]!) }
            }
            for (slot, output) in node.outputs.prefix(carriedCount).enumerated() {
                guard let output else { continue }
                graph.addNode(Node(name: fresh("\(node.name)_result\(slot)"), op: .identity, inputs: [carried[slot]], outputs: [output]))
            }
            guard scanCount > 0 else { return }
            let leadingAxis = constant(Tensor(shape: [1], scalars: [Int64(0)]), "\(node.name)_stack_axes")
            for (scan, output) in node.outputs.dropFirst(carriedCount).enumerated() {
                guard let output else { continue }
                let slices = scans[scan].enumerated().map { trip, value -> ValueID? in
                    let slice = graph.addValue(Value(name: fresh("\(graph[value].name)_slice")))
                    graph.addNode(Node(
                        name: fresh("\(node.name)_scan\(scan)_slice\(trip)"), op: .unsqueeze, inputs: [value, leadingAxis],
                        outputs: [slice]))
                    return slice
                }
                graph.addNode(Node(
                    name: fresh("\(node.name)_scan\(scan)"), op: .concat, inputs: slices, outputs: [output],
                    attributes: Attributes(["axis": .int(0)])))
            }
        }
    }
}
