import KilnCore
import KilnIR

/// Use-def facts about one graph that annotation and partitioning ask over and over:
/// who produces and who reads each value, which values are constants and which are
/// graph outputs. Computed once per graph.
struct GraphFacts: Sendable {
    /// The graph the facts describe.
    let graph: Graph
    /// For each value, the index of the node producing it.
    let producer: [Int?]
    /// For each value, the indices of the nodes reading it, as an input or (for `If`/`Loop`)
    /// as a capture of a body; a node appears once per value even if it reads it twice.
    let readers: [[Int]]
    /// For each value, whether it is a graph output.
    let isGraphOutput: [Bool]
    /// For each node, the indices of the nodes it depends on (inputs and captures).
    let dependencies: [[Int]]

    init(_ graph: Graph) {
        self.graph = graph
        var producer = [Int?](repeating: nil, count: graph.values.count)
        for (index, node) in graph.nodes.enumerated() {
            for case let output? in node.outputs { producer[output.index] = index }
        }
        var readers = [[Int]](repeating: [], count: graph.values.count)
        var dependencies = [[Int]](repeating: [], count: graph.nodes.count)
        let nameIndex = Dictionary(
            graph.values.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, node) in graph.nodes.enumerated() {
            var read = Set<Int>()
            for case let input? in node.inputs { read.insert(input.index) }
            for name in Graph.captureNames(of: node) {
                if let value = nameIndex[name] { read.insert(value) }
            }
            for value in read.sorted() {
                readers[value].append(index)
                if let source = producer[value] { dependencies[index].append(source) }
            }
        }
        var isGraphOutput = [Bool](repeating: false, count: graph.values.count)
        for output in graph.outputs { isGraphOutput[output.index] = true }
        self.producer = producer
        self.readers = readers
        self.isGraphOutput = isGraphOutput
        self.dependencies = dependencies.map { Array(Set($0)).sorted() }
    }

    /// The constant data of `value`: an initializer that is not also a graph input (an
    /// input's initializer is only its default, the caller may replace it).
    func constant(_ value: ValueID) -> Tensor? {
        guard let tensor = graph.initializers[value], !graph.inputs.contains(value) else { return nil }
        return tensor
    }

    /// Whether `value` is a constant (see ``constant(_:)``).
    func isConstant(_ value: ValueID) -> Bool { constant(value) != nil }
}
