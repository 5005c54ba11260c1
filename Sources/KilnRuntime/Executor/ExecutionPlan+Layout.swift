import KilnCore
import KilnIR

extension ExecutionPlan {
    /// The memory plan of a shape-inferred graph: each value's placement, the slots to
    /// release after each step, and the totals.
    struct Layout {
        var placements: [MemoryPlan.Placement?]
        var release: [[Int]]
        var plan: MemoryPlan
    }

    /// Plans every node output: graph outputs on the heap (they are handed to the caller),
    /// views for alias ops, the input's buffer for elementwise ops whose input dies there,
    /// otherwise a new arena buffer; then places the buffers with ``MemoryPlanner``.
    static func layout(_ graph: Graph) throws -> Layout {
        let stepCount = graph.nodes.count
        let isGraphOutput = Set(graph.outputs.map(\.index))
        var isExternal = [Bool](repeating: false, count: graph.values.count)
        for id in graph.inputs { isExternal[id.index] = true }
        for id in graph.initializers.keys { isExternal[id.index] = true }

        // Last reader of each value; graph outputs live to the end (they are copied out then).
        var lastUse = [Int](repeating: -1, count: graph.values.count)
        for (index, node) in graph.nodes.enumerated() {
            for case let input? in node.inputs { lastUse[input.index] = index }
        }
        for id in graph.outputs { lastUse[id.index] = stepCount }

        var buffers: [MemoryPlanner.Buffer] = []
        var bufferOf = [Int?](repeating: nil, count: graph.values.count)
        var placements = [MemoryPlan.Placement?](repeating: nil, count: graph.values.count)
        var inPlace = [Bool](repeating: false, count: graph.values.count)
        var intermediateBytes = 0
        var intermediateCount = 0
        var aliasCount = 0
        var unplannedCount = 0

        for (step, node) in graph.nodes.enumerated() {
            var reused: Set<Int> = []
            for case let output? in node.outputs {
                let value = graph[output]
                let end = max(lastUse[output.index], step)
                if aliasOps.contains(node.op), let source = node.input(0) {
                    placements[output.index] = .alias
                    aliasCount += 1
                    if let buffer = bufferOf[source.index] {
                        bufferOf[output.index] = buffer
                        buffers[buffer].end = max(buffers[buffer].end, end)
                    }
                    continue
                }
                let bytes = value.type.staticShape.flatMap { shape in
                    value.type.dtype.map { Tensor.elementCount(shape) * $0.byteSize }
                }
                if !isGraphOutput.contains(output.index) {
                    intermediateCount += 1
                    intermediateBytes += bytes ?? 0
                }
                guard !isGraphOutput.contains(output.index) else {
                    placements[output.index] = .heap
                    continue
                }
                guard let bytes, node.op != .dpuSubgraph else {
                    placements[output.index] = .heap
                    unplannedCount += 1
                    continue
                }
                let size = MemoryPlanner.aligned(bytes)
                if let candidates = inPlaceInputs(node),
                    let buffer = inPlaceCandidate(node, candidates, value, size, step, graph, bufferOf, buffers, reused)
                {
                    reused.insert(buffer)
                    bufferOf[output.index] = buffer
                    buffers[buffer].end = max(buffers[buffer].end, end)
                    inPlace[output.index] = true
                    continue
                }
                bufferOf[output.index] = buffers.count
                buffers.append(MemoryPlanner.Buffer(bytes: size, start: step, end: end))
            }
        }

        let (offsets, arenaBytes) = MemoryPlanner.assignOffsets(buffers)
        var inPlaceCount = 0
        for (index, buffer) in bufferOf.enumerated() {
            guard let buffer, placements[index] == nil else { continue }
            placements[index] = .arena(offset: offsets[buffer], bytes: buffers[buffer].bytes, inPlace: inPlace[index])
            if inPlace[index] { inPlaceCount += 1 }
        }

        var release = [[Int]](repeating: [], count: stepCount)
        for (index, step) in lastUse.enumerated() where step >= 0 && step < stepCount && !isExternal[index] {
            release[step].append(index)
        }
        let plan = MemoryPlan(
            arenaBytes: arenaBytes, intermediateBytes: intermediateBytes, intermediateCount: intermediateCount,
            inPlaceCount: inPlaceCount, aliasCount: aliasCount, unplannedCount: unplannedCount)
        return Layout(placements: placements, release: release, plan: plan)
    }

    /// The inputs whose buffer `node`'s output may take over: any input of an elementwise
    /// op (``inPlaceOps``), the summand (input 3) of a `fusedConv`, which the conv accumulates
    /// into; `nil` for other ops.
    private static func inPlaceInputs(_ node: Node) -> [ValueID]? {
        if inPlaceOps.contains(node.op) { return node.inputs.compactMap { $0 } }
        if node.op == .fusedConv, node.inputs.count > 3, let summand = node.inputs[3] {
            // Not when the conv also reads the summand as its input or weight.
            return node.inputs.prefix(3).contains(summand) ? nil : [summand]
        }
        return nil
    }

    /// The buffer of one of `candidates` (inputs of `node`) that `node` may overwrite with
    /// `output`: same shape, dtype and size, and no reader of that buffer after this step.
    private static func inPlaceCandidate(
        _ node: Node, _ candidates: [ValueID], _ output: Value, _ size: Int, _ step: Int, _ graph: Graph,
        _ bufferOf: [Int?], _ buffers: [MemoryPlanner.Buffer], _ reused: Set<Int>
    ) -> Int? {
        // A conv reads its input while it writes: never over a buffer its X, W or B live in.
        let read = node.op == .fusedConv ? Set(node.inputs.prefix(3).compactMap { $0.flatMap { bufferOf[$0.index] } }) : []
        for input in candidates {
            guard let buffer = bufferOf[input.index], !reused.contains(buffer), !read.contains(buffer) else { continue }
            let type = graph[input].type
            guard buffers[buffer].end == step, buffers[buffer].bytes == size, type.dtype == output.type.dtype,
                type.staticShape != nil, type.staticShape == output.type.staticShape
            else { continue }
            return buffer
        }
        return nil
    }
}
