/// Groups DPU nodes into regions: connected sets of DPU nodes that can each become one
/// DPU call without creating a cycle.
///
/// Greedy contraction over DPU→DPU edges with union-find, sweeping the nodes in
/// topological order: each DPU node first joins the region of the node it is folded or
/// fused into (a BatchNormalization its Conv, an activation its op), then tries to join
/// the region of each DPU node it reads. Two regions merge only if no path leads from one
/// to the other through a vertex outside both — a CPU node or a third region, each
/// region counting as one vertex (contracted) — since contracting them would then put
/// that vertex both before and after the merged region: a cycle. So the contracted graph
/// stays a DAG at every step.
///
/// Because the sweep is topological, every region holds only nodes at or before the
/// current one, and a path between two regions never needs a later node: the search
/// ignores them.
struct RegionMerger {
    private let successors: [[Int]]
    private var parent: [Int]
    private var members: [Int: [Int]]
    private var visitStamp: [Int]
    private var stamp = 0

    /// The regions of the DPU nodes of a graph, each a sorted list of node indices, in
    /// order of their first node.
    ///
    /// - Parameters:
    ///   - dependencies: For each node, the nodes it reads from (``GraphFacts/dependencies``);
    ///     every dependency comes earlier.
    ///   - isDPU: For each node, whether it is placed on the DPU.
    ///   - anchors: For each node, the node it is folded or fused into.
    static func regions(dependencies: [[Int]], isDPU: [Bool], anchors: [Int?]) -> [[Int]] {
        var merger = RegionMerger(dependencies: dependencies, isDPU: isDPU)
        for node in dependencies.indices where isDPU[node] {
            if let anchor = anchors[node], isDPU[anchor] { merger.merge(anchor, node, upTo: max(anchor, node)) }
            for source in dependencies[node] where isDPU[source] { merger.merge(source, node, upTo: node) }
        }
        return merger.members.values.sorted { $0[0] < $1[0] }
    }

    private init(dependencies: [[Int]], isDPU: [Bool]) {
        var successors = [[Int]](repeating: [], count: dependencies.count)
        for (node, sources) in dependencies.enumerated() {
            for source in sources { successors[source].append(node) }
        }
        self.successors = successors
        parent = Array(dependencies.indices)
        members = [:]
        for node in dependencies.indices where isDPU[node] { members[node] = [node] }
        visitStamp = [Int](repeating: 0, count: dependencies.count)
    }

    private mutating func find(_ node: Int) -> Int {
        var root = node
        while parent[root] != root { root = parent[root] }
        var current = node
        while parent[current] != root {
            let next = parent[current]
            parent[current] = root
            current = next
        }
        return root
    }

    /// Merges the regions of `a` and `b` unless that would create a cycle; no region
    /// holds a node after `last`.
    private mutating func merge(_ a: Int, _ b: Int, upTo last: Int) {
        let rootA = find(a)
        let rootB = find(b)
        guard rootA != rootB,
            !hasOutsidePath(from: rootA, to: rootB, upTo: last),
            !hasOutsidePath(from: rootB, to: rootA, upTo: last)
        else { return }
        let (keep, drop) = (members[rootA]?.count ?? 0) >= (members[rootB]?.count ?? 0) ? (rootA, rootB) : (rootB, rootA)
        parent[drop] = keep
        members[keep] = ((members[keep] ?? []) + (members[drop] ?? [])).sorted()
        members[drop] = nil
    }

    /// Whether a path leads from region `source` to region `target` through at least one
    /// vertex in neither, regions contracted.
    private mutating func hasOutsidePath(from source: Int, to target: Int, upTo last: Int) -> Bool {
        stamp += 1
        var stack: [Int] = []
        // Visits `node` and, as entering a region enters all of it, its region's members.
        func enter(_ node: Int) {
            let region = find(node)
            for member in members[region] ?? [node] where visitStamp[member] != stamp {
                visitStamp[member] = stamp
                stack.append(member)
            }
        }
        for member in members[source] ?? [] {
            for next in successors[member] where next <= last && visitStamp[next] != stamp {
                let region = find(next)
                if region != source && region != target { enter(next) }
            }
        }
        while let node = stack.popLast() {
            for next in successors[node] where next <= last && visitStamp[next] != stamp {
                let region = find(next)
                if region == target { return true }
                if region != source { enter(next) }
            }
        }
        return false
    }
}
