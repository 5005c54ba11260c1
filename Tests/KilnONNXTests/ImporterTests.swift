import Foundation
import KilnCore
import KilnIR
import KilnInterpreter
import KilnONNX
import KilnONNXProto
import KilnTestSupport
import Testing

@Suite struct ImporterTests {
    /// x: float32[batch, 4] → Relu → Add(bias) → y.
    static func reluModel(opset: Int = 13) -> ONNXModelBuilder {
        var builder = ONNXModelBuilder(opset: opset)
        builder.input("x", .float32, ["batch", 4])
        builder.initializer("bias", Tensor(shape: [4], scalars: [1, 2, 3, 4] as [Float]))
        builder.node("Relu", ["x"], ["r"], name: "relu0")
        builder.node("Add", ["r", "bias"], ["y"], name: "add0")
        builder.output("y", .float32, ["batch", 4])
        return builder
    }

    static func importing(_ builder: ONNXModelBuilder) throws -> ImportedModel {
        try ONNXImporter.importModel(data: try builder.serialized(), directory: nil)
    }

    @Test func importsAndKeepsSymbolicDimensions() throws {
        let model = try Self.importing(Self.reluModel())
        let graph = model.graph
        #expect(model.opset == 13)
        #expect(graph.nodes.map(\.op) == [.relu, .add])
        let x = try #require(graph.valueID(named: "x"))
        let r = try #require(graph.valueID(named: "r"))
        #expect(graph[x].type == TensorType(dtype: .float32, shape: [.symbol("batch"), .known(4)]))
        #expect(graph[r].type == TensorType(dtype: .float32, shape: [.symbol("batch"), .known(4)]))
        let bound = try ShapeInference.infer(graph, bindings: ["x": [3, 4]])
        #expect(bound[r].type.staticShape == [3, 4])
    }

    @Test func printsReadableIR() throws {
        let text = try Self.importing(Self.reluModel()).graph.printed()
        #expect(text.contains("graph test(%x: float32[batch, 4]) -> (%y)"))
        #expect(text.contains("%r: float32[batch, 4] = relu(%x)   # relu0"))
    }

    @Test func unknownOpNamesTheOpNodeAndOpset() throws {
        var builder = Self.reluModel()
        builder.node("FrobnicateTensor", ["y"], ["z"], name: "frob1")
        let error = try #require(throws: KilnError.self) { try Self.importing(builder) }
        #expect(error.code == .unsupportedOp)
        #expect(error.message.contains("FrobnicateTensor") && error.message.contains("frob1") && error.message.contains("opset 13"))
    }

    @Test func foreignDomainIsUnsupported() throws {
        var builder = Self.reluModel()
        builder.node("FusedConv", ["y"], ["z"], domain: "com.microsoft")
        let error = try #require(throws: KilnError.self) { try Self.importing(builder) }
        #expect(error.code == .unsupportedOp)
    }

    @Test(arguments: [6, 99])
    func opsetOutsideTheRangeIsRejected(_ opset: Int) throws {
        let error = try #require(throws: KilnError.self) { try Self.importing(Self.reluModel(opset: opset)) }
        #expect(error.code == .unsupportedOpset)
    }

    @Test func nonONNXBytesAreRejected() throws {
        for bytes in [Data("hello, this is not a model\n".utf8), Data([0xFF, 0xFF, 0xFF, 0x01]), Data()] {
            let error = try #require(throws: KilnError.self) {
                try ONNXImporter.importModel(data: bytes, directory: nil)
            }
            #expect(error.code == .notONNX)
        }
    }

    /// Every prefix of a valid model either imports or fails with a Kiln error; none crashes.
    @Test func truncatedModelsFailCleanly() throws {
        let data = try Self.reluModel().serialized()
        for length in 0..<data.count {
            do {
                _ = try ONNXImporter.importModel(data: data.prefix(length), directory: nil)
            } catch let error as KilnError {
                #expect([.notONNX, .invalidModel, .unsupportedOpset].contains(error.code), "length \(length): \(error)")
            }
        }
    }

    @Test func constantNodesBecomeInitializers() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [2])
        var constant = Onnx_NodeProto()
        constant.opType = "Constant"
        constant.output = ["c"]
        var value = Onnx_AttributeProto()
        value.name = "value"
        value.type = .tensor
        value.t = ONNXModelBuilder.tensorProto("", Tensor(shape: [2], scalars: [10, 20] as [Float]))
        constant.attribute = [value]
        builder.model.graph.node.append(constant)
        builder.node("Add", ["x", "c"], ["y"])
        builder.output("y", .float32, [2])
        let graph = try Self.importing(builder).graph
        #expect(graph.nodes.map(\.op) == [.add])
        let c = try #require(graph.valueID(named: "c"))
        #expect(graph.initializers[c] == Tensor(shape: [2], scalars: [10, 20] as [Float]))
        let y = try Interpreter(graph: graph).run(["x": Tensor(shape: [2], scalars: [1, 2] as [Float])])["y"]
        #expect(y == Tensor(shape: [2], scalars: [11, 22] as [Float]))
    }

    @Test func initializerShadowingAnInputIsItsDefault() throws {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [2])
        builder.input("scale", .float32, [2])
        builder.initializer("scale", Tensor(shape: [2], scalars: [2, 3] as [Float]))
        builder.initializer("unused", Tensor(shape: [1], scalars: [0] as [Float]))
        builder.node("Mul", ["x", "scale"], ["y"])
        builder.output("y", .float32, [2])
        let interpreter = try Interpreter(graph: try Self.importing(builder).graph)
        let x = Tensor(shape: [2], scalars: [1, 1] as [Float])
        #expect(interpreter.requiredInputs.map(\.name) == ["x"])
        #expect(try interpreter.run(["x": x])["y"] == Tensor(shape: [2], scalars: [2, 3] as [Float]))
        let override = Tensor(shape: [2], scalars: [5, 7] as [Float])
        #expect(try interpreter.run(["x": x, "scale": override])["y"] == override)
    }

    @Test func externalDataIsReadBesideTheModel() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-ext-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = Tensor(shape: [4], scalars: [1, -1, 2, -2] as [Float])
        var blob = Data(repeating: 0, count: 16)
        weights.withUnsafeBytes { blob.append(contentsOf: $0) }
        try blob.write(to: directory.appendingPathComponent("weights.bin"))

        func model(location: String) throws -> URL {
            var builder = ONNXModelBuilder(opset: 13)
            builder.input("x", .float32, [4])
            var proto = ONNXModelBuilder.tensorProto("w", weights)
            proto.clearRawData()
            proto.dataLocation = .external
            proto.externalData = [("location", location), ("offset", "16"), ("length", "16")].map { key, value in
                var entry = Onnx_StringStringEntryProto()
                entry.key = key
                entry.value = value
                return entry
            }
            builder.model.graph.initializer.append(proto)
            builder.node("Mul", ["x", "w"], ["y"])
            builder.output("y", .float32, [4])
            let url = directory.appendingPathComponent("model-\(UUID()).onnx")
            try builder.serialized().write(to: url)
            return url
        }
        let graph = try ONNXImporter.importModel(contentsOf: try model(location: "weights.bin")).graph
        let w = try #require(graph.valueID(named: "w"))
        #expect(graph.initializers[w] == weights)

        let missing = try #require(throws: KilnError.self) {
            try ONNXImporter.importModel(contentsOf: try model(location: "nope.bin"))
        }
        #expect(missing.code == .externalDataMissing)
        let escaping = try #require(throws: KilnError.self) {
            try ONNXImporter.importModel(contentsOf: try model(location: "../weights.bin"))
        }
        #expect(escaping.code == .invalidModel)
    }
}
