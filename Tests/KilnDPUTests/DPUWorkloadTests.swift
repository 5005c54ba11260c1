import KilnDPU
import KilnIR
import Testing

/// How body nodes become operations: which are work, which fold away, which results stay
/// on chip.
@Suite struct DPUWorkloadTests {
    /// The one subgraph's operations, by name.
    static func operations(_ graph: Graph) throws -> [String: DPUOperation] {
        let workloads = DPUWorkload.build(from: graph)
        try #require(workloads.count == 1)
        return Dictionary(workloads[0].operations.map { ($0.name, $0) }) { first, _ in first }
    }

    /// Conv + ReLU + MaxPool: the ReLU folds into the conv, whose result the pool reads
    /// from the banks, so neither stores nor loads it.
    @Test func convReluPoolIsTwoOperationsAndTheConvResultStaysOnChip() throws {
        var g = TestGraph()
        let x = g.input("x", [1, 16, 16, 16])
        let conv = g.conv(x, inputs: 16, out: 32, kernel: 3, name: "conv")
        let relu = g.node(.relu, [conv], name: "relu")
        let pool = g.node(.maxPool, [relu], name: "pool", ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
        let operations = try Self.operations(try g.partitioned([pool]))
        #expect(Set(operations.keys) == ["conv", "pool"])
        let convOperation = try #require(operations["conv"])
        let poolOperation = try #require(operations["pool"])
        #expect(convOperation.engine == .conv)
        #expect(convOperation.kernel == [3, 3])
        #expect(convOperation.inputChannels == 16)
        #expect(convOperation.output == FeatureShape(spatial: [16, 16], channels: 32))
        #expect(convOperation.weightBytes == 32 * 16 * 9 + 32)
        #expect(convOperation.macs == 16 * 16 * 32 * 16 * 9)
        #expect(convOperation.featureLoadBytes == 16 * 16 * 16)
        #expect(!convOperation.storesOutput)
        #expect(poolOperation.engine == .pool)
        #expect(poolOperation.featureLoadBytes == 0)
        #expect(poolOperation.storeBytes == 8 * 8 * 32)
    }

    /// A residual add takes the branch's last conv from the banks; the shortcut, which the
    /// branch also reads, comes from DDR.
    @Test func residualAddFusesOnlyTheBranchConv() throws {
        var g = TestGraph()
        let x = g.input("x", [1, 16, 8, 8])
        let stem = g.node(.relu, [g.conv(x, inputs: 16, out: 16, kernel: 3, name: "stem")], name: "stem_relu")
        let branch = g.conv(stem, inputs: 16, out: 16, kernel: 3, name: "branch")
        let sum = g.node(.relu, [g.node(.add, [branch, stem], name: "add")], name: "add_relu")
        let operations = try Self.operations(try g.partitioned([sum]))
        #expect(Set(operations.keys) == ["stem", "branch", "add"])
        #expect(operations["stem"]?.storesOutput == true)
        #expect(operations["branch"]?.storesOutput == false)
        let add = try #require(operations["add"])
        #expect(add.engine == .eltwise)
        #expect(add.inputs.map(\.isLoaded) == [false, true])
        #expect(add.storeBytes == 16 * 8 * 8)
    }

    /// Depthwise conv runs on the ALU's depthwise engine; ReLU6 folds into it.
    @Test func depthwiseConvIsTheDepthwiseEngine() throws {
        var g = TestGraph()
        let x = g.input("x", [1, 32, 14, 14])
        let dw = g.conv(x, inputs: 32, out: 32, kernel: 3, group: 32, name: "dw")
        let zero = g.constant([])
        let six = g.constant([])
        g.graph.initializers[zero] = .init(scalar: Float(0))
        g.graph.initializers[six] = .init(scalar: Float(6))
        let clipped = g.node(.clip, [dw, zero, six], name: "relu6")
        let operations = try Self.operations(try g.partitioned([clipped]))
        #expect(Set(operations.keys) == ["dw"])
        let operation = try #require(operations["dw"])
        #expect(operation.engine == .depthwise)
        #expect(operation.macs == 14 * 14 * 32 * 9)
        #expect(operation.weightBytes == 32 * 9 + 32)
    }

    /// Global pool, flatten and a fully connected layer: the flatten is free, the pool reads
    /// the conv's result on chip, the FC is a conv-engine operation over one row.
    @Test func classifierHead() throws {
        var g = TestGraph()
        let x = g.input("x", [1, 64, 7, 7])
        let conv = g.conv(x, inputs: 64, out: 128, kernel: 1, name: "conv")
        let pooled = g.node(.globalAveragePool, [conv], name: "gap")
        let flat = g.node(.flatten, [pooled], name: "flatten", ["axis": .int(1)])
        let logits = g.node(.gemm, [flat, g.constant([10, 128]), g.constant([10])], name: "fc", ["transB": .int(1)])
        let operations = try Self.operations(try g.partitioned([logits]))
        #expect(Set(operations.keys) == ["conv", "gap", "fc"])
        #expect(operations["gap"]?.kernel == [7, 7])
        #expect(operations["gap"]?.inputs.first?.isLoaded == false)
        let fc = try #require(operations["fc"])
        #expect(fc.engine == .conv)
        #expect(fc.macs == 1280)
        #expect(fc.weightBytes == 1290)
        #expect(fc.featureLoadBytes == 128)
    }

    /// Concat costs nothing: its producers store into the joined buffer and its reader
    /// loads all of it.
    @Test func concatIsFreeAndItsReaderLoadsTheWhole() throws {
        var g = TestGraph()
        let x = g.input("x", [1, 16, 8, 8])
        let left = g.conv(x, inputs: 16, out: 8, kernel: 1, name: "left")
        let right = g.conv(x, inputs: 16, out: 24, kernel: 3, name: "right")
        let joined = g.node(.concat, [left, right], name: "concat", ["axis": .int(1)])
        let out = g.conv(joined, inputs: 32, out: 16, kernel: 1, name: "out")
        let operations = try Self.operations(try g.partitioned([out]))
        #expect(Set(operations.keys) == ["left", "right", "out"])
        #expect(operations["left"]?.storesOutput == true)
        #expect(operations["right"]?.storesOutput == true)
        #expect(operations["out"]?.featureLoadBytes == 32 * 8 * 8)
    }

    /// GOP: 2 × MACs, as vaitrace counts them.
    @Test func gopCountsAMACAsTwoOps() {
        let conv = DPUOperation(
            name: "c", op: "Conv", engine: .conv, inputs: [FeatureInput(shape: FeatureShape(spatial: [10, 10], channels: 10))],
            output: FeatureShape(spatial: [10, 10], channels: 10), kernel: [1, 1])
        let workload = SubgraphWorkload(id: 0, name: "s", operations: [conv])
        #expect(workload.macs == 10_000)
        #expect(workload.gop == 2e-5)
    }
}
