import KilnCore
import KilnIR
import KilnPasses
import KilnTestSupport
import Testing

@Suite struct RewriterTests {
    /// `y = relu(exp(x))`.
    static func chain() throws -> Graph {
        try PassTesting.graph { builder in
            builder.input("x", .float32, [3])
            builder.node("Exp", ["x"], ["e"], name: "exp")
            builder.node("Relu", ["e"], ["y"], name: "relu")
            builder.output("y", .float32, [3])
        }
    }

    /// `op(node's input 0)` in place of any `from` node.
    static func retype(_ from: OpKind, _ to: OpKind) -> RewriteRule {
        RewriteRule(name: "\(from)(x) -> \(to)(x)") { node, view in
            guard node.op == from, let x = node.input(0) else { return nil }
            return Replacement(in: view, nodes: [Node(name: node.name, op: to, inputs: [x], outputs: node.outputs)])
        }
    }

    /// `relu(exp(x)) -> sigmoid(x)`.
    static let fused = RewriteRule(name: "relu(exp(x)) -> sigmoid(x)") { node, view in
        guard node.op == .relu, let e = node.input(0), view.hasSingleUse(e), let exp = view.producer(of: e),
            exp.op == .exp,
            let x = exp.input(0)
        else { return nil }
        return Replacement(in: view, nodes: [Node(name: node.name, op: .sigmoid, inputs: [x], outputs: node.outputs)])
    }

    @Test func laterRulesWin() throws {
        let result = try Rewriter([Self.retype(.relu, .abs), Self.retype(.relu, .neg)]).rewrite(Self.chain())
        #expect(PassTesting.ops(result.graph) == [.exp, .neg])
        #expect(result.hits == ["relu(x) -> neg(x)": 1])
    }

    /// Consumers are visited first, so the pattern rooted at `relu` sees the `exp` before
    /// the `exp` rule could rewrite it.
    @Test func largerPatternsMatchFirst() throws {
        let result = try Rewriter([Self.retype(.exp, .neg), Self.fused]).rewrite(Self.chain())
        #expect(
            result.graph.printed() == """
                graph test(%x: float32[3]) -> (%y) {
                  %y: float32[3] = sigmoid(%x)   # relu
                }
                """)
        #expect(result.hits == ["relu(exp(x)) -> sigmoid(x)": 1])
    }

    @Test func rulesThatUndoEachOtherStop() throws {
        let result = try Rewriter([Self.retype(.relu, .abs), Self.retype(.abs, .relu)]).rewrite(Self.chain())
        #expect(!result.isConverged)
        try Verifier.verify(result.graph)
        #expect(result.graph.nodes.count == 2)
    }

    @Test func aRuleThatDropsAReadOutputIsAnError() throws {
        let broken = RewriteRule(name: "relu(x) -> nothing") { node, view in
            node.op == .relu ? Replacement(in: view) : nil
        }
        let error = try #require(throws: KilnError.self) { try Rewriter([broken]).rewrite(Self.chain()) }
        #expect(error.code == .verificationFailed)
    }

    @Test func newConstantsGetFreshNames() throws {
        let addOne = RewriteRule(name: "exp(x) -> add(x, 1)") { node, view in
            guard node.op == .exp, let x = node.input(0) else { return nil }
            var replacement = Replacement(in: view)
            let one = replacement.constant(Tensor(scalar: Float(1)), name: "x")  // "x" is taken
            replacement.nodes = [Node(name: node.name, op: .add, inputs: [x, one], outputs: node.outputs)]
            return replacement
        }
        let result = try Rewriter([addOne]).rewrite(Self.chain())
        #expect(
            result.graph.printed() == """
                graph test(%x: float32[3]) -> (%y) {
                  %x_1: float32[] = initializer
                  %e: float32[3] = add(%x, %x_1)   # exp
                  %y: float32[3] = relu(%e)   # relu
                }
                """)
    }
}
