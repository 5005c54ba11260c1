import KilnCore
import KilnIR
import KilnInterpreter
import KilnKernels
@testable import KilnRuntime
import Testing

/// Each prepared kernel of the graph executor against its evaluator, bit for bit: a graph
/// of the op (output into an arena slot) followed by `Neg` (in place over that slot, then
/// the graph output on the heap), run by the graph executor (both steps prepared) and by the
/// interpreter (both evaluators), at 1 and 2 threads.
@Suite struct PreparedKernelTests {
    /// One case: the op, its graph inputs by shape, its constant inputs, its attributes.
    struct Case: CustomStringConvertible, Sendable {
        let op: OpKind
        let inputs: [[Int]?]
        var constants: [Int: Tensor] = [:]
        var attributes: [String: AttributeValue] = [:]

        var description: String { "\(op) \(inputs.map { $0.map { "\($0)" } ?? "-" }) \(attributes.keys.sorted())" }
    }

    static let cases: [Case] = [
        Case(op: .add, inputs: [[2, 3, 4], [2, 3, 4]]),
        Case(op: .add, inputs: [[1, 16, 32], [32]]),
        Case(op: .sub, inputs: [[2, 3, 4], []]),
        Case(op: .sub, inputs: [[], [2, 3, 4]]),
        Case(op: .mul, inputs: [[2, 1, 4], [3, 1]]),
        Case(op: .mul, inputs: [[2, 3, 4, 5], [3, 1, 1]]),
        Case(op: .div, inputs: [[1, 4, 16, 16], []]),
        Case(op: .div, inputs: [[4, 1], [1, 5]]),
        Case(op: .add, inputs: [[300, 100], [300, 100]]),
        Case(op: .matMul, inputs: [[1, 4, 16, 8], [1, 4, 8, 16]]),
        Case(op: .matMul, inputs: [[1, 16, 32], [32, 64]]),
        Case(op: .matMul, inputs: [[2, 1, 3, 4], [5, 4, 2]]),
        Case(op: .matMul, inputs: [[3], [3, 2]]),
        Case(op: .matMul, inputs: [[2, 3], [3]]),
        Case(op: .gemm, inputs: [[4, 3], [3, 5]]),
        Case(op: .gemm, inputs: [[3, 4], [5, 3], [5]], attributes: ["transA": .int(1), "transB": .int(1), "alpha": .float(0.5), "beta": .float(2)]),
        Case(op: .gemm, inputs: [[4, 3], [3, 5], [4, 1]]),
        Case(op: .softmax, inputs: [[1, 4, 16, 16]]),
        Case(op: .softmax, inputs: [[2, 3, 4]], attributes: ["axis": .int(1)]),
        Case(op: .softmax, inputs: [[3, 37]]),
        Case(op: .logSoftmax, inputs: [[2, 3, 4]]),
        Case(op: .hardmax, inputs: [[2, 3, 4]], attributes: ["axis": .int(0)]),
        Case(op: .layerNormalization, inputs: [[1, 16, 32], [32], [32]]),
        Case(op: .layerNormalization, inputs: [[2, 3, 4], [3, 4]], attributes: ["axis": .int(1), "epsilon": .float(1e-3)]),
        Case(op: .layerNormalization, inputs: [[2, 3, 4], [4], nil]),
        Case(op: .transpose, inputs: [[1, 16, 4, 8]], attributes: ["perm": .ints([0, 2, 1, 3])]),
        Case(op: .transpose, inputs: [[1, 16, 4, 8]], attributes: ["perm": .ints([0, 2, 3, 1])]),
        Case(op: .transpose, inputs: [[2, 3, 4]]),
        Case(op: .reshape, inputs: [[1, 16, 32], nil], constants: [1: Tensor(shape: [4], scalars: [1, 16, 4, 8] as [Int64])]),
        Case(op: .flatten, inputs: [[2, 3, 4]], attributes: ["axis": .int(2)]),
        Case(op: .unsqueeze, inputs: [[3, 4], nil], constants: [1: Tensor(shape: [1], scalars: [0] as [Int64])]),
        Case(op: .squeeze, inputs: [[3, 1, 4], nil], constants: [1: Tensor(shape: [1], scalars: [1] as [Int64])]),
        Case(op: .gelu, inputs: [[1, 16, 64]]),
        Case(op: .gelu, inputs: [[2, 5]], attributes: ["approximate": .string("tanh")]),
        Case(op: .tanh, inputs: [[2, 13]]),
        Case(op: .sigmoid, inputs: [[2, 13]]),
        Case(op: .erf, inputs: [[2, 13]]),
        Case(op: .relu, inputs: [[2, 13]]),
        // Convolutions with packed weights: the direct kernel (AVX-512), pointwise GEMMs.
        Case(
            op: .conv, inputs: [[1, 8, 10, 10], nil, nil],
            constants: [1: values([12, 8, 3, 3], seed: 3), 2: values([12], seed: 4)],
            attributes: ["pads": .ints([1, 1, 1, 1])]),
        Case(
            op: .fusedConv, inputs: [[2, 16, 6, 6], nil, nil, [2, 8, 6, 6]],
            constants: [1: values([8, 16, 1, 1], seed: 5), 2: values([8], seed: 6)],
            attributes: ["activation": .string("silu"), "activation_min": .float(-1), "activation_max": .float(2)]),
        Case(
            op: .fusedConv, inputs: [[1, 4, 9, 9], nil, nil, [1, 6, 5, 5]], constants: [1: values([6, 4, 3, 3], seed: 7)],
            attributes: ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]), "activation": .string("hard_swish")]),
    ]

    @Test(arguments: cases, [1, 2])
    func preparedKernelMatchesItsEvaluator(test: Case, threads: Int) throws {
        var graph = Graph(name: "prepared")
        var operands: [ValueID?] = []
        var inputs: [String: Tensor] = [:]
        for (index, shape) in test.inputs.enumerated() {
            if let constant = test.constants[index] {
                operands.append(graph.addInitializer(constant, name: "c\(index)"))
                continue
            }
            guard let shape else {
                operands.append(nil)
                continue
            }
            let name = "x\(index)"
            let id = graph.addValue(Value(name: name, type: TensorType(dtype: .float32, shape: shape)))
            graph.inputs.append(id)
            operands.append(id)
            inputs[name] = Self.values(shape, seed: index)
        }
        let middle = graph.addValue(Value(name: "t"))
        let output = graph.addValue(Value(name: "y"))
        graph.outputs = [output]
        graph.addNode(Node(name: "n", op: test.op, inputs: operands, outputs: [middle], attributes: Attributes(test.attributes)))
        graph.addNode(Node(name: "neg", op: .neg, inputs: [middle], outputs: [output]))

        let executor = try GraphExecutor(graph: graph, threads: threads)
        // The direct convolution kernel needs AVX-512; elsewhere those steps run their evaluator.
        let direct = (test.op == .conv || test.op == .fusedConv) && test.constants[1].map { $0.shape[2] > 1 } == true
        if !direct || NativeKernels.cpuISA >= .avx512 {
            #expect(executor.plan.steps.allSatisfy { $0.prepared != nil }, "\(test): not prepared")
        }
        let context = executor.makeContext()
        let expected = try Interpreter(graph: graph, threads: threads).run(inputs)
        // Twice: the second run reuses the arena slots the first one wrote.
        for _ in 0..<2 {
            let actual = try context.run(inputs)
            let (a, b) = (try #require(actual["y"]), try #require(expected["y"]))
            #expect(a.shape == b.shape, "\(test)")
            #expect(Self.bits(a) == Self.bits(b), "\(test): prepared kernel differs from the evaluator")
        }
    }

    /// An operand's shape the plan did not infer (a bigger tensor bound to a shadowed
    /// initializer) is refused, not read out of bounds.
    @Test func initializerOverrideOfThePlannedShapeIsRefused() throws {
        var graph = Graph(name: "override")
        let x = graph.addValue(Value(name: "x", type: TensorType(dtype: .float32, shape: [2, 3])))
        let bias = graph.addInitializer(Self.values([3], seed: 1), name: "b")
        let y = graph.addValue(Value(name: "y"))
        graph.inputs = [x, bias]
        graph.outputs = [y]
        graph.addNode(Node(name: "add", op: .add, inputs: [x, bias], outputs: [y]))
        let executor = try GraphExecutor(graph: graph)
        let inputs = ["x": Self.values([2, 3], seed: 0), "b": Self.values([3], seed: 2)]
        let result = try #require(try executor.run(inputs)["y"])
        #expect(Self.bits(result) == Self.bits(try #require(try Interpreter(graph: graph).run(inputs)["y"])))
        #expect(throws: KilnError.self) { _ = try executor.run(["x": Self.values([2, 3], seed: 0), "b": Self.values([2, 3], seed: 2)]) }
    }

    /// Deterministic values of both signs, with a negative zero and ties for Hardmax.
    static func values(_ shape: [Int], seed: Int) -> Tensor {
        let count = Tensor.elementCount(shape)
        let scalars = (0..<count).map { index -> Float in
            if index == 3 { return -0.0 }
            if index == 5 { return 0.75 }
            return Float((index * 37 + seed * 11) % 29 - 14) / 7.5
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    static func bits(_ tensor: Tensor) -> [UInt32] {
        tensor.scalars(as: Float.self).map(\.bitPattern)
    }
}
