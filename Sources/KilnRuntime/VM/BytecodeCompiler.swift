import KilnCore
import KilnIR
import KilnInterpreter

/// Compiles a graph (and its `If`/`Loop` bodies, inline) into ``Bytecode``.
struct BytecodeCompiler {
    private(set) var code = Bytecode()
    private let runner: any SubgraphRunner

    init(runner: any SubgraphRunner) {
        self.runner = runner
    }

    /// Compiles the top-level graph.
    static func compile(_ graph: Graph, runner: any SubgraphRunner) throws -> Bytecode {
        var compiler = BytecodeCompiler(runner: runner)
        let registers = try compiler.compileScope(graph, outer: [:])
        for id in graph.inputs {
            let input = (graph[id].name, registers[id.index], graph[id])
            if graph.initializers[id] == nil {
                compiler.code.inputs.append(input)
            } else {
                compiler.code.defaultedInputs.append(input)
            }
        }
        compiler.code.outputs = graph.outputs.map { (graph[$0].name, registers[$0.index]) }
        return compiler.code
    }

    /// Gives every value of `graph` a register (captures: the outer register of that
    /// name), emits its nodes, and returns the registers by value index.
    private mutating func compileScope(_ graph: Graph, outer: [String: Int]) throws -> [Int] {
        var registers = [Int](repeating: -1, count: graph.values.count)
        let captured = Set(graph.captures.map(\.index))
        for (index, value) in graph.values.enumerated() {
            if captured.contains(index) {
                guard let register = outer[value.name] else {
                    throw KilnError(.invalidModel, "subgraph '\(graph.name)' reads unknown outer value '\(value.name)'")
                }
                registers[index] = register
            } else {
                registers[index] = code.registerCount
                code.registerCount += 1
            }
        }
        for (id, tensor) in graph.initializers { code.constants.append((registers[id.index], tensor)) }
        var names = outer
        for (index, value) in graph.values.enumerated() { names[value.name] = registers[index] }

        // Registers this scope owns and may free after their last reader (not inputs,
        // initializers, captures, outputs).
        var lastUse = [Int](repeating: -1, count: graph.values.count)
        let nameIndex = Dictionary(graph.values.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (position, node) in graph.nodes.enumerated() {
            for case let input? in node.inputs { lastUse[input.index] = position }
            for name in Graph.captureNames(of: node) {
                if let index = nameIndex[name] { lastUse[index] = max(lastUse[index], position) }
            }
        }
        var pinned = captured
        for id in graph.inputs { pinned.insert(id.index) }
        for id in graph.initializers.keys { pinned.insert(id.index) }
        for id in graph.outputs { pinned.insert(id.index) }

        for (position, node) in graph.nodes.enumerated() {
            try emit(node, registers: registers, names: names)
            let dead = lastUse.indices.filter { lastUse[$0] == position && !pinned.contains($0) }.map { registers[$0] }
            if !dead.isEmpty { code.instructions.append(.free(dead)) }
        }
        return registers
    }

    private mutating func emit(_ node: Node, registers: [Int], names: [String: Int]) throws {
        let inputs = node.inputs.map { $0.map { registers[$0.index] } }
        let outputs = node.outputs.map { $0.map { registers[$0.index] } }
        switch node.op {
        case .if:
            try emitIf(node, inputs: inputs, outputs: outputs, names: names)
        case .loop:
            try emitLoop(node, inputs: inputs, outputs: outputs, names: names)
        case .dpuSubgraph:
            code.subgraphs.append(Bytecode.SubgraphSite(call: try SubgraphCall(node: node), node: node, inputs: inputs, outputs: outputs))
            code.instructions.append(.invokeSubgraph(code.subgraphs.count - 1))
        default:
            guard let evaluator = Evaluators.table[node.op] else {
                throw KilnError(.kernelMissing, "[\(node.op)] node '\(node.name)': no CPU implementation yet")
            }
            code.calls.append(Bytecode.Call(node: node, evaluator: evaluator, inputs: inputs, outputs: outputs))
            code.instructions.append(.invoke(code.calls.count - 1))
        }
    }

    /// `jumpUnless cond ELSE; then…; moves; jump END; ELSE: else…; moves; END:`.
    private mutating func emitIf(_ node: Node, inputs: [Int?], outputs: [Int?], names: [String: Int]) throws {
        guard let condition = inputs.first ?? nil,
            let thenBranch = try node.attributes.graph("then_branch"),
            let elseBranch = try node.attributes.graph("else_branch")
        else {
            throw KilnError(.invalidModel, "[If] node '\(node.name)' needs a condition and both branches")
        }
        let branchJump = code.instructions.count
        code.instructions.append(.jumpUnless(condition: condition, target: -1))
        try emitBranch(thenBranch, outputs: outputs, names: names, node: node)
        let endJump = code.instructions.count
        code.instructions.append(.jump(-1))
        code.instructions[branchJump] = .jumpUnless(condition: condition, target: code.instructions.count)
        try emitBranch(elseBranch, outputs: outputs, names: names, node: node)
        code.instructions[endJump] = .jump(code.instructions.count)
    }

    private mutating func emitBranch(_ branch: Graph, outputs: [Int?], names: [String: Int], node: Node) throws {
        guard branch.outputs.count >= outputs.count else {
            throw KilnError(
                .invalidModel, "[If] node '\(node.name)': branch '\(branch.name)' has \(branch.outputs.count) outputs for \(outputs.count)")
        }
        let registers = try compileScope(branch, outer: names)
        for (output, source) in zip(outputs, branch.outputs) {
            guard let output else { continue }
            code.instructions.append(.move(from: registers[source.index], to: output))
        }
    }

    /// `enter; TOP: test → END; body…; next; jump TOP; END: exit`.
    private mutating func emitLoop(_ node: Node, inputs: [Int?], outputs: [Int?], names: [String: Int]) throws {
        guard let body = try node.attributes.graph("body") else {
            throw KilnError(.invalidModel, "[Loop] node '\(node.name)' needs a body")
        }
        var initial: [Int] = []
        for index in 2..<max(2, inputs.count) {
            guard let register = inputs[index] else {
                throw KilnError(.invalidArgument, "[Loop] node '\(node.name)': loop-carried input \(index) is missing")
            }
            initial.append(register)
        }
        let scanCount = body.outputs.count - 1 - initial.count
        guard scanCount >= 0 else {
            throw KilnError(
                .invalidModel,
                "[Loop] node '\(node.name)': body has \(body.outputs.count) outputs for \(initial.count) loop-carried values")
        }
        let loopIndex = code.loops.count
        // Reserve the slot; the body's registers are known after compiling it.
        code.loops.append(Bytecode.Loop(
            node: node, tripCount: nil, condition: nil, initial: [], bodyInputs: [], bodyOutputs: [], outputs: [],
            scanTypes: []))
        code.instructions.append(.loopEnter(loopIndex))
        let top = code.instructions.count
        code.instructions.append(.loopTest(loopIndex, exit: -1))
        let registers = try compileScope(body, outer: names)
        code.instructions.append(.loopNext(loopIndex))
        code.instructions.append(.jump(top))
        code.instructions[top] = .loopTest(loopIndex, exit: code.instructions.count)
        code.instructions.append(.loopExit(loopIndex))
        let scanTypes = body.outputs.suffix(scanCount).map { body[$0].type }
        code.loops[loopIndex] = Bytecode.Loop(
            node: node, tripCount: inputs.first ?? nil, condition: inputs.count > 1 ? inputs[1] : nil, initial: initial,
            bodyInputs: body.inputs.map { registers[$0.index] }, bodyOutputs: body.outputs.map { registers[$0.index] },
            outputs: outputs, scanTypes: scanTypes)
    }
}
