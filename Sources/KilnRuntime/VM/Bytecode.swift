import KilnCore
import KilnIR
import KilnInterpreter

/// The VM's program: registers, constants, a flat instruction list with jumps, and the
/// call sites instructions refer to by index.
///
/// Six kinds of instruction, in the spirit of the TVM Relax VM's four opcodes: everything
/// else is a kernel call. `If` and `Loop` are not kernels here: their bodies are compiled
/// inline into the same instruction list (their values get registers of their own; a
/// body's captured outer values are the outer registers), so control flow is jumps.
struct Bytecode: Sendable {
    /// One instruction.
    enum Instruction: Sendable, Equatable {
        /// Calls kernel `calls[index]`; the kernel computes its output shapes from its
        /// inputs (the shape function) and allocates its outputs.
        case invoke(Int)
        /// Calls accelerator subgraph `subgraphCalls[index]` through the runner.
        case invokeSubgraph(Int)
        /// Copies register `from` into register `to` (branch and loop results).
        case move(from: Int, to: Int)
        /// Jumps to `target` unless register `condition` holds true.
        case jumpUnless(condition: Int, target: Int)
        /// Jumps to `target`.
        case jump(Int)
        /// Loop `loops[index]`: `enter` reads M, cond and the initial values; `test` exits
        /// to `exit` when done, else binds the body's inputs; `next` takes the body's
        /// results; `exit` writes the node's outputs.
        case loopEnter(Int)
        case loopTest(Int, exit: Int)
        case loopNext(Int)
        case loopExit(Int)
        /// Clears registers after their last reader.
        case free([Int])
    }

    /// A kernel call site (a class: the machine then retains one reference per call instead
    /// of copying every field).
    final class Call: Sendable {
        let node: Node
        let evaluator: Evaluator
        let inputs: [Int?]
        let outputs: [Int?]

        init(node: Node, evaluator: @escaping Evaluator, inputs: [Int?], outputs: [Int?]) {
            self.node = node
            self.evaluator = evaluator
            self.inputs = inputs
            self.outputs = outputs
        }
    }

    /// An accelerator call site.
    struct SubgraphSite: Sendable {
        let call: SubgraphCall
        let node: Node
        let inputs: [Int?]
        let outputs: [Int?]
    }

    /// A `Loop` node's registers.
    struct Loop: Sendable {
        let node: Node
        /// M, cond, initial values (node inputs).
        let tripCount: Int?
        let condition: Int?
        let initial: [Int]
        /// Body inputs: iteration number, condition, carried values (as many as the body has).
        let bodyInputs: [Int]
        /// Body outputs: condition, carried values, scan outputs.
        let bodyOutputs: [Int]
        /// Node outputs: final carried values, stacked scan outputs (`nil` when unused).
        let outputs: [Int?]
        /// Declared type of each scan output (for an empty stack).
        let scanTypes: [TensorType]
    }

    var instructions: [Instruction] = []
    var calls: [Call] = []
    var subgraphs: [SubgraphSite] = []
    var loops: [Loop] = []
    var registerCount = 0
    /// Initializers (of the graph and of every body) by register.
    var constants: [(register: Int, tensor: Tensor)] = []
    /// The top-level graph's non-initializer inputs and outputs.
    var inputs: [(name: String, register: Int, value: Value)] = []
    /// Top-level inputs an initializer shadows (the initializer is the default).
    var defaultedInputs: [(name: String, register: Int, value: Value)] = []
    var outputs: [(name: String, register: Int)] = []
}
