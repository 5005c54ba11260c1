import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
@testable import KilnONNX
import KilnONNXProto
import KilnPasses
import KilnTargets
import KilnTestSupport
import Testing

/// `ONNXExporter`: import → export → import gives the same graph, and the exported
/// model computes the same outputs; ops ONNX lacks are spelled out; older opsets get
/// their own forms.
@Suite struct ExporterTests {
    static func roundTrip(_ graph: Graph, opset: Int) throws -> Graph {
        try ONNXImporter.importModel(data: try ONNXExporter.export(graph, opset: opset), directory: nil).graph
    }

    static func importing(_ builder: ONNXModelBuilder) throws -> ImportedModel {
        try ONNXImporter.importModel(data: try builder.serialized(), directory: nil)
    }

    /// Runs both graphs on `inputs` and expects equal outputs.
    static func expectSameOutputs(
        _ actual: Graph, _ expected: Graph, _ inputs: [String: Tensor],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let a = try Interpreter(graph: actual).run(inputs)
        let e = try Interpreter(graph: expected).run(inputs)
        #expect(Set(a.keys) == Set(e.keys), sourceLocation: sourceLocation)
        for (name, tensor) in e {
            guard let other = a[name] else { continue }
            let mismatch = TensorComparison.mismatch(other, tensor, rtol: 1e-6, atol: 1e-6)
            #expect(mismatch == nil, "\(name): \(mismatch ?? "")", sourceLocation: sourceLocation)
        }
    }

    @Test func roundTripKeepsSymbolicDimsAndWritesIRVersion10() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, ["batch", 4])
        builder.initializer("bias", Tensor(shape: [4], scalars: [1, 2, 3, 4] as [Float]))
        builder.node("Relu", ["x"], ["r"], name: "relu0")
        builder.node("Add", ["r", "bias"], ["y"], name: "add0")
        builder.node("Cast", ["y"], ["z"], name: "cast0", attributes: ["to": .int(7)])
        builder.output("z", .int64, ["batch", 4])
        let graph = try Self.importing(builder).graph
        let data = try ONNXExporter.export(graph, opset: 13)
        let proto = try Onnx_ModelProto(serializedBytes: data)
        #expect(proto.irVersion == 10)
        #expect(proto.opsetImport.map(\.version) == [13])
        let r = try #require(proto.graph.valueInfo.first { $0.name == "r" })
        #expect(r.type.tensorType.shape.dim.first?.dimParam == "batch")
        let cast = try #require(proto.graph.node.first { $0.opType == "Cast" })
        #expect(cast.attribute.first?.i == 7)
        #expect(proto.graph.initializer.first?.rawData.count == 16)
        let back = try ONNXImporter.importModel(data: data, directory: nil).graph
        #expect(GraphComparison.differences(back, graph) == [])
    }

    /// Reductions take `axes` as an attribute before opset 18, as an input from 18.
    @Test(arguments: [13, 18])
    func reductionAxesFollowTheOpset(opset: Int) throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [2, 3, 4])
        builder.node("ReduceMean", ["x"], ["y"], name: "mean", attributes: ["axes": .ints([1]), "keepdims": .int(0)])
        builder.output("y", .float32, [2, 4])
        let graph = try Self.importing(builder).graph
        let proto = try ONNXExporter.modelProto(graph, opset: opset)
        let node = try #require(proto.graph.node.first)
        #expect(node.input.count == (opset < 18 ? 1 : 2))
        #expect(node.attribute.contains { $0.name == "axes" } == (opset < 18))
        let back = try Self.roundTrip(graph, opset: opset)
        #expect(GraphComparison.differences(back, graph) == [])
    }

    /// Softmax from opset 11 flattens at `axis`; at 13 that is Flatten → Softmax → Reshape.
    @Test func coercedSoftmaxBecomesFlattenSoftmaxReshape() throws {
        var builder = ONNXModelBuilder(opset: 11)
        builder.input("x", .float32, [2, 3, 4])
        builder.node("Softmax", ["x"], ["y"], name: "softmax", attributes: ["axis": .int(1)])
        builder.output("y", .float32, [2, 3, 4])
        let graph = try Self.importing(builder).graph
        let back = try Self.roundTrip(graph, opset: 13)
        #expect(back.nodes.map(\.op) == [.flatten, .softmax, .shape, .reshape])
        let x = Tensor(shape: [2, 3, 4], scalars: (0..<24).map { Float($0) * 0.37 - 4 })
        try Self.expectSameOutputs(back, graph, ["x": x])
    }

    /// relu6, silu and hard_swish (made by canonicalization) leave as standard ONNX.
    @Test(arguments: [13, 14])
    func internalActivationsAreSpelledOut(opset: Int) throws {
        var graph = Graph(name: "acts")
        let type = TensorType(dtype: .float32, shape: [1, 8])
        let x = graph.addValue(Value(name: "x", type: type))
        let a = graph.addValue(Value(name: "a", type: type))
        let b = graph.addValue(Value(name: "b", type: type))
        let c = graph.addValue(Value(name: "c", type: type))
        graph.inputs = [x]
        graph.addNode(Node(name: "r6", op: .relu6, inputs: [x], outputs: [a]))
        graph.addNode(Node(name: "sw", op: .silu, inputs: [a], outputs: [b]))
        graph.addNode(Node(name: "hs", op: .hardSwish, inputs: [x], outputs: [c]))
        graph.outputs = [b, c]
        let proto = try ONNXExporter.modelProto(graph, opset: opset)
        let ops = proto.graph.node.map(\.opType)
        #expect(ops == ["Clip", "Sigmoid", "Mul"] + (opset < 14 ? ["HardSigmoid", "Mul"] : ["HardSwish"]))
        let back = try Self.roundTrip(graph, opset: opset)
        let input = Tensor(shape: [1, 8], scalars: [-7, -3, -1.5, -0.25, 0.5, 2.75, 5.5, 9] as [Float])
        try Self.expectSameOutputs(back, graph, ["x": input])
    }

    /// fusedConv leaves as Conv, then Add with its summand, then Relu or Clip.
    @Test func fusedConvIsSpelledOut() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 2, 3, 3])
        builder.initializer("w", Tensor(shape: [2, 2, 1, 1], scalars: [0.5, -1, 2, 0.25] as [Float]))
        builder.initializer("b", Tensor(shape: [2], scalars: [0.1, -0.2] as [Float]))
        builder.node("Conv", ["x", "w", "b"], ["c"], name: "conv0")
        builder.output("c", .float32, [1, 2, 3, 3])
        var graph = try Self.importing(builder).graph
        let conv = graph.nodes[0]
        let y = graph.addValue(Value(name: "y", type: graph[try #require(conv.outputs[0])].type))
        let z = graph.addValue(Value(name: "z", type: graph[try #require(conv.outputs[0])].type))
        var summed = conv.attributes
        summed.values["activation_min"] = .float(0)
        var clipped = conv.attributes
        clipped.values["activation_min"] = .float(-0.5)
        clipped.values["activation_max"] = .float(0.75)
        graph.nodes = [
            Node(name: "conv0", op: .fusedConv, inputs: conv.inputs, outputs: conv.outputs, attributes: clipped),
            Node(name: "conv1", op: .fusedConv, inputs: conv.inputs + [conv.outputs[0]], outputs: [y], attributes: summed),
            Node(name: "conv2", op: .fusedConv, inputs: conv.inputs + [y], outputs: [z], attributes: conv.attributes),
        ]
        graph.outputs = [z]
        let proto = try ONNXExporter.modelProto(graph, opset: 13)
        #expect(proto.graph.node.map(\.opType) == ["Conv", "Clip", "Conv", "Add", "Relu", "Conv", "Add"])
        let input = Tensor(shape: [1, 2, 3, 3], scalars: (0..<18).map { Float($0) / 4 - 2 })
        try Self.expectSameOutputs(try Self.roundTrip(graph, opset: 13), graph, ["x": input])
    }

    /// A fusedConv activation leaves as the ops it fused: SiLU as Sigmoid and Mul after the
    /// clamp, HardSwish as itself (opset 14) or HardSigmoid and Mul (before).
    @Test(arguments: [13, 14])
    func fusedConvActivationIsSpelledOut(opset: Int) throws {
        var builder = ONNXModelBuilder(opset: opset)
        builder.input("x", .float32, [1, 2, 3, 3])
        builder.initializer("w", Tensor(shape: [2, 2, 1, 1], scalars: [0.5, -1, 2, 0.25] as [Float]))
        builder.node("Conv", ["x", "w"], ["c"], name: "conv0")
        builder.output("c", .float32, [1, 2, 3, 3])
        var graph = try Self.importing(builder).graph
        let conv = graph.nodes[0]
        let y = graph.addValue(Value(name: "y", type: graph[try #require(conv.outputs[0])].type))
        var silu = conv.attributes
        silu.values["activation_max"] = .float(1.5)
        silu.values["activation"] = .string("silu")
        var hardSwish = conv.attributes
        hardSwish.values["activation"] = .string("hard_swish")
        graph.nodes = [
            Node(name: "conv0", op: .fusedConv, inputs: conv.inputs, outputs: conv.outputs, attributes: silu),
            Node(name: "conv1", op: .fusedConv, inputs: [conv.outputs[0], conv.inputs[1]], outputs: [y], attributes: hardSwish),
        ]
        graph.outputs = [y]
        let proto = try ONNXExporter.modelProto(graph, opset: opset)
        let hardSwishOps = opset < 14 ? ["HardSigmoid", "Mul"] : ["HardSwish"]
        #expect(proto.graph.node.map(\.opType) == ["Conv", "Clip", "Sigmoid", "Mul", "Conv"] + hardSwishOps)
        let input = Tensor(shape: [1, 2, 3, 3], scalars: (0..<18).map { Float($0) / 4 - 2 })
        try Self.expectSameOutputs(try Self.roundTrip(graph, opset: opset), graph, ["x": input])
    }

    /// A dpu_subgraph node is written as its body's nodes, with the outer names.
    @Test func dpuSubgraphIsInlined() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 4])
        builder.initializer("w", Tensor(shape: [4], scalars: [0.5, -1, 2, 0.25] as [Float]))
        builder.node("Mul", ["x", "w"], ["m"], name: "mul0")
        builder.node("Relu", ["m"], ["r"], name: "relu0")
        builder.node("Neg", ["r"], ["y"], name: "neg0")
        builder.output("y", .float32, [1, 4])
        let flat = try Self.importing(builder).graph
        // Wrap mul0 and relu0 in a composite node, as partitioning does.
        var body = Graph(name: "dpu_subgraph_0")
        let bx = body.addValue(flat[try #require(flat.valueID(named: "x"))])
        let bw = body.addValue(flat[try #require(flat.valueID(named: "w"))])
        let bm = body.addValue(flat[try #require(flat.valueID(named: "m"))])
        let br = body.addValue(flat[try #require(flat.valueID(named: "r"))])
        body.initializers[bw] = flat.initializers[try #require(flat.valueID(named: "w"))]
        body.inputs = [bx]
        body.addNode(Node(name: "mul0", op: .mul, inputs: [bx, bw], outputs: [bm]))
        body.addNode(Node(name: "relu0", op: .relu, inputs: [bm], outputs: [br]))
        body.outputs = [br]
        var partitioned = flat
        partitioned.nodes = [
            Node(
                name: "dpu_subgraph_0", op: .dpuSubgraph, inputs: [flat.valueID(named: "x")],
                outputs: [flat.valueID(named: "r")], attributes: Attributes(["body": .graph(body), "id": .int(0)])),
            flat.nodes[2],
        ]
        let (inlined, fromBody) = try partitioned.inliningDPUSubgraphs()
        #expect(fromBody == [true, true, false])
        #expect(GraphComparison.differences(inlined, flat) == [])
        let back = try Self.roundTrip(partitioned, opset: 13)
        #expect(GraphComparison.differences(back, flat) == [])
    }

    /// Every op the IR has leaves as an ONNX op (composites are inlined first).
    @Test func everyOpKindHasAnONNXName() {
        let missing = OpKind.allCases.filter { $0 != .dpuSubgraph && OpExporters.onnxNames[$0] == nil }
        #expect(missing == [])
    }

    @Test func opsTheOpsetLacksAreErrors() throws {
        var builder = ONNXModelBuilder(opset: 20)
        builder.input("x", .float32, [4])
        builder.node("Gelu", ["x"], ["y"], name: "gelu0")
        builder.output("y", .float32, [4])
        let graph = try Self.importing(builder).graph
        let error = try #require(throws: KilnError.self) { try ONNXExporter.export(graph, opset: 13) }
        #expect(error.code == .unsupportedOpVersion)
        #expect(error.message.contains("gelu0"))
        #expect(try ONNXExporter.modelProto(graph, opset: 20).graph.node.map(\.opType) == ["Gelu"])
        let tooOld = try #require(throws: KilnError.self) { try ONNXExporter.export(graph, opset: 12) }
        #expect(tooOld.code == .unsupportedOpset)
    }

    // MARK: Reference models

    @Test(arguments: ReferenceModels.manifest)
    func referenceModelRoundTrips(_ entry: ReferenceModels.Entry) throws {
        let original = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let back = try Self.roundTrip(original, opset: entry.opset)
        #expect(GraphComparison.differences(back, original) == [], "\(entry.name)")
        for (inputs, _) in try entry.inputSets() {
            try Self.expectSameOutputs(back, original, inputs)
        }
    }

    /// The exported reference models, as imported and canonicalized, pass onnx's checker
    /// and compute onnxruntime's outputs in onnxruntime (`Scripts/check_export.py`).
    @Test(arguments: ReferenceModels.manifest)
    func onnxruntimeRunsTheExportedModel(_ entry: ReferenceModels.Entry) throws {
        guard PythonReference.python != nil else {
            if PythonReference.isCI { Issue.record(Comment(rawValue: PythonReference.missingMessage)) }
            return
        }
        let original = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-export-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (canonical, _) = try PassManager(Pass.canonicalization).run(original)
        for (label, graph) in [("original", original), ("canonical", canonical)] {
            let url = directory.appendingPathComponent("\(entry.name).\(label).onnx")
            try ONNXExporter.export(graph, opset: entry.opset).write(to: url)
            let result = try PythonReference.run(
                "check_export.py",
                [
                    url.path, "--inputs", ReferenceModels.directory.appendingPathComponent(entry.inputs[0]).path,
                    "--expected", ReferenceModels.directory.appendingPathComponent(entry.expected[0]).path,
                ])
            #expect(result.status == 0, "\(label): \(result.stdout)\(result.stderr)")
        }
    }
}

/// Canonical graphs (relu6, silu, hard_swish, Gemm, folded BN) survive export: importing
/// and canonicalizing the export gives the same canonical graph.
@Suite struct CanonicalExportTests {
    @Test(arguments: ReferenceModels.manifest)
    func canonicalGraphRoundTrips(_ entry: ReferenceModels.Entry) throws {
        let original = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let (canonical, _) = try PassManager(Pass.canonicalization).run(original)
        let exported = try ExporterTests.roundTrip(canonical, opset: entry.opset)
        let (back, _) = try PassManager(Pass.canonicalization).run(exported)
        #expect(GraphComparison.differences(back, canonical) == [], "\(entry.name)")
        for (inputs, _) in try entry.inputSets() {
            try ExporterTests.expectSameOutputs(back, canonical, inputs)
        }
    }
}

/// Partitioned graphs export as their regions' nodes: the exported model has no composite
/// node, canonicalizes to the same nodes (by name) as the graph before partitioning, and
/// computes its outputs.
@Suite struct PartitionedExportTests {
    @Test(arguments: ReferenceModels.manifest)
    func dpuSubgraphsAreInlined(_ entry: ReferenceModels.Entry) throws {
        let original = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let target = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
        let inspection = try InspectPipeline.inspect(original, target: target)
        let partitioned = inspection.partition.graph
        let back = try ExporterTests.roundTrip(partitioned, opset: entry.opset)
        #expect(!back.nodes.contains { $0.op == .dpuSubgraph })
        // silu is Mul(x, Sigmoid(x)) in ONNX: canonicalize again before comparing.
        let (canonical, _) = try PassManager(InspectPipeline.preparation).run(back)
        #expect(Set(canonical.nodes.map(\.name)) == Set(inspection.graph.nodes.map(\.name)), "\(entry.name)")
        for (inputs, _) in try entry.inputSets() {
            try ExporterTests.expectSameOutputs(back, inspection.graph, inputs)
        }
    }
}
