/// Groups DPU nodes into regions: connected sets of DPU nodes that can each become one
/// DPU call without creating a cycle.
///
/// Greedy contraction over DPU→DPU edges, with union-find: first every folded or fused
/// node joins its anchor (a BatchNormalization its Conv, an activation its op), then, in
/// topological order, each DPU node tries to join the region of each DPU node it reads.
/// Two regions merge only if no path leads from one to the other through a node outside
/// both (a CPU node, or another region): contracting them would put that node both
/// before and after the merged region, a cycle. Every region stays convex, so the
/// contracted graph stays a DAG.
///
/// The path search runs depth-first from the source region's successors and prunes
/// nodes past the target region's last node in topological order, which can never lead
/// back into it.
struct RegionMerger {
    private let successors: [[Int]]
    private var parent: [Int]
    private var members: [Int: [Int]]
    private var lastIndex: [Int: Int]
    private var visitStamp: [Int]
    private var stamp = 0

    /// The regions of the DPU nodes of a graph, each a sorted list of node indices, in
    /// order of their first node.
    ///
    /// - Parameters:
    ///   - dependencies: For each node, the nodes it reads from (``GraphFacts/dependencies``).
    ///   - isDPU: For each node, whether it is placed on the DPU.
    ///   - anchors: For each node, the node it is folded or fused into.
    static func regions(dependencies: [[Int]], isDPU: [Bool], anchors: [Int?]) -> [[Int]] {
        var merger = RegionMerger(dependencies: dependencies, isDPU: isDPU)
        for (node, anchor) in anchors.enumerated() {
            if let anchor, isDPU[node], isDPU[anchor] { merger.merge(node, anchor) }
        }
        for node in dependencies.indices where isDPU[node] {
            for source in dependencies[node] where isDPU[source] { merger.merge(source, node) }
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
        lastIndex = [:]
        for node in dependencies.indices where isDPU[node] {
            members[node] = [node]
            lastIndex[node] = node
        }
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

    /// Merges the regions of `a` and `b` unless that would create a cycle.
    private mutating func merge(_ a: Int, _ b: Int) {
        let rootA = find(a)
        let rootB = find(b)
        guard rootA != rootB, !hasOutsidePath(from: rootA, to: rootB), !hasOutsidePath(from: rootB, to: rootA) else {
            return
        }
        let (keep, drop) = (members[rootA]?.count ?? 0) >= (members[rootB]?.count ?? 0) ? (rootA, rootB) : (rootB, rootA)
        parent[drop] = keep
        members[keep] = ((members[keep] ?? []) + (members[drop] ?? [])).sorted()
        lastIndex[keep] = max(lastIndex[keep] ?? 0, lastIndex[drop] ?? 0)
        members[drop] = nil
        lastIndex[drop] = nil
    }

    /// Whether a path leads from region `source` to region `target` through at least one
    /// node in neither.
    private mutating func hasOutsidePath(from source: Int, to target: Int) -> Bool {
        guard let limit = lastIndex[target] else { return false }
        stamp += 1
        var stack: [Int] = []
        for member in members[source] ?? [] {
            for next in successors[member] where next <= limit && visitStamp[next] != stamp {
                let region = find(next)
                if region == source || region == target { continue }
                visitStamp[next] = stamp
                stack.append(next)
            }
        }
        while let node = stack.popLast() {
            for next in successors[node] where next <= limit && visitStamp[next] != stamp {
                if find(next) == target { return true }
                visitStamp[next] = stamp
                stack.append(next)
            }
        }
        return false
    }
}
