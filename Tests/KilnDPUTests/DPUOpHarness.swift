import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnQuant
import KilnTargets

/// Builds one-layer graphs with their plans, runs them on the emulator, for the single-op tests.
struct DPUOpHarness {
    var graph = Graph(name: "single_op")
    var plan = QuantizationPlan(scale: .pow2, target: nil, method: .minmax, calibrationSamples: 0)
    var generator: SplitMix

    init(seed: UInt64) { generator = SplitMix(seed: seed) }

    /// A float activation value with a fix position.
    mutating func activation(_ name: String, _ shape: [Int], position: Int) -> ValueID {
        plan.tensors[name] = .fixPosition(position, roundMode: .halfUp)
        return graph.addValue(Value(name: name, type: TensorType(dtype: .float32, shape: shape)))
    }

    /// A constant of integers `values` at `position` (float `q · 2^-p`).
    mutating func constant(_ name: String, _ shape: [Int], _ values: [Int], position: Int) -> ValueID {
        plan.tensors[name] = .fixPosition(position, roundMode: .halfAwayFromZero)
        let id = graph.addValue(Value(name: name, type: TensorType(dtype: .float32, shape: shape)))
        let scale = Float(exp2(Double(-position)))
        graph.initializers[id] = Tensor(shape: shape, scalars: values.map { Float($0) * scale })
        return id
    }

    /// An int64 constant (shapes, slice bounds).
    mutating func indices(_ name: String, _ values: [Int]) -> ValueID {
        let id = graph.addValue(Value(name: name, type: TensorType(dtype: .int64, shape: [values.count])))
        graph.initializers[id] = Tensor(shape: [values.count], scalars: values.map { Int64($0) })
        return id
    }

    /// A float constant (resize scales).
    mutating func floats(_ name: String, _ values: [Float]) -> ValueID {
        let id = graph.addValue(Value(name: name, type: TensorType(dtype: .float32, shape: [values.count])))
        graph.initializers[id] = Tensor(shape: [values.count], scalars: values)
        return id
    }

    mutating func node(
        _ name: String, _ op: OpKind, _ inputs: [ValueID?], _ outputs: [ValueID],
        _ attributes: [String: AttributeValue] = [:]
    ) {
        graph.addNode(Node(name: name, op: op, inputs: inputs, outputs: outputs, attributes: Attributes(attributes)))
    }

    /// `count` random int8 values.
    mutating func integers(_ count: Int, in range: ClosedRange<Int> = -128...127) -> [Int] {
        (0..<count).map { _ in generator.next(in: range) }
    }

    /// Compiles for `target` and runs on int8 inputs (graph layout).
    func run(_ inputs: [String: [Int]], target: String, threads: Int = 2) throws -> (DPUProgram, [String: [Int]]) {
        let architecture = try Catalog.architecture(named: target)
        let program = try DPUCompiler.compile(subgraph: graph, plan: plan, architecture: architecture)
        let emulator = try DPUEmulator(program: program, architecture: architecture, threads: threads)
        var feeds: [String: Tensor] = [:]
        for id in graph.inputs {
            let value = graph[id]
            let shape = value.type.staticShape ?? []
            feeds[value.name] = Tensor(shape: shape, scalars: (inputs[value.name] ?? []).map { Int8($0) })
        }
        let outputs = try emulator.run(feeds)
        return (program, outputs.mapValues { $0.scalars(as: Int8.self).map(Int.init) })
    }
}

/// SplitMix64: the same numbers on every platform.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    mutating func pick<T>(_ values: [T]) -> T { values[next(in: 0...(values.count - 1))] }
}
