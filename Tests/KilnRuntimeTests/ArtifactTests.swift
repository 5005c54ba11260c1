import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnPasses
import KilnQuant
import KilnRuntime
import KilnTargets
import KilnTestSupport
import Testing

@Suite struct ArtifactTests {
    @Test func roundTripKeepsTensorsSymbolsAndCode() throws {
        let tree = try ArtifactFixtures.richTree()
        let header = ArtifactFixtures.header(.calibrated(ArtifactFixtures.plan))
        let backends = BackendRegistry.builtIn + [AlternativeCPUBackend()]
        let artifact = try ArtifactReader.decode(ArtifactWriter.encode(tree, header: header), backends: backends)
        #expect(artifact.header == header)
        #expect(artifact.version == ArtifactFormat.version)
        #expect(!artifact.needsRecompile)
        expectSameTree(artifact.tree, tree)
        let cpu = try #require(artifact.tree.module(named: "cpu0") as? CPUModule)
        #expect(cpu.graph == SampleGraphs.convolution())
        let cpu1 = try #require(artifact.tree.module(named: "cpu1") as? CPUModuleWithOtherEntry)
        #expect(cpu1.base.graph == SampleGraphs.controlFlow())
        let dpu = try #require(artifact.tree.module(named: "dpu0") as? DPUModule)
        #expect(dpu.programs == ArtifactFixtures.dpuModule().programs)
        #expect(dpu.constants == ["dpu0/packed_weights": Tensor(shape: [3, 5], scalars: (0..<15).map { Int8($0 - 7) })])
        #expect(artifact.sections.map(\.name) == ["header", "modules", "constants", "module.0", "module.1", "module.2"])
    }

    /// A file's constants are read in place from a private mapping: they outlive the
    /// artifact, count as owned (not arena views), and writing one leaves the file alone.
    @Test func constantsReadFromAFileViewItsMapping() throws {
        let header = ArtifactFixtures.header(.calibrated(ArtifactFixtures.plan))
        let directory = try ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("a.kiln")
        try ArtifactWriter.write(ArtifactFixtures.richTree(), header: header, to: url)
        let bytes = try Data(contentsOf: url)
        var weights: Tensor
        do {
            let artifact = try ArtifactReader.read(contentsOf: url, backends: BackendRegistry.builtIn + [AlternativeCPUBackend()])
            expectSameTree(artifact.tree, try ArtifactFixtures.richTree())
            let dpu = try #require(artifact.tree.module(named: "dpu0") as? DPUModule)
            weights = try #require(dpu.constants["dpu0/packed_weights"])
        }
        #expect(!weights.isView)
        #expect(weights == Tensor(shape: [3, 5], scalars: (0..<15).map { Int8($0 - 7) }))
        weights.withUnsafeMutableBytes { $0[0] = 42 }
        #expect(weights.scalars(as: Int8.self)[0] == 42)
        #expect(try Data(contentsOf: url) == bytes)
        let again = try ArtifactReader.read(contentsOf: url, backends: BackendRegistry.builtIn + [AlternativeCPUBackend()])
        let reread = try #require((again.tree.module(named: "dpu0") as? DPUModule)?.constants["dpu0/packed_weights"])
        #expect(reread.scalars(as: Int8.self)[0] == -7)
    }

    /// A pipe cannot be mapped: a clear error, and no wait for a writer.
    @Test func aPipeIsRefusedAsNotARegularFile() throws {
        let directory = try ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("pipe.kiln")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        #expect(errorCode { _ = try ArtifactReader.read(contentsOf: fifo) } == .fileUnreadable)
    }

    @Test func sectionsAndConstantsAreAligned() throws {
        let data = try ArtifactWriter.encode(ArtifactFixtures.tree(), header: ArtifactFixtures.header())
        let artifact = try ArtifactReader.decode(data)
        #expect(artifact.sections.allSatisfy { $0.offset % 64 == 0 })
        let modules = try ArtifactAssembler(data).json("modules")
        let constants = try #require(modules["constants"] as? [[String: Any]])
        #expect(constants.count == 4)
        #expect(constants.allSatisfy { ($0["offset"] as? Int).map { $0 % 64 == 0 } == true })
    }

    @Test func sameInputGivesSameBytes() throws {
        let header = ArtifactFixtures.header(.calibrated(ArtifactFixtures.plan))
        let first = try ArtifactWriter.encode(ArtifactFixtures.richTree(), header: header)
        let second = try ArtifactWriter.encode(ArtifactFixtures.richTree(), header: header)
        #expect(first == second)
        let directory = try ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("a.kiln")
        try ArtifactWriter.write(ArtifactFixtures.richTree(), header: header, to: url)
        #expect(try Data(contentsOf: url) == first)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["a.kiln"])
    }

    @Test func fingerprintMismatchIsRefusedUnlessRecompileIsAllowed() throws {
        let data = try ArtifactWriter.encode(ArtifactFixtures.tree(), header: ArtifactFixtures.header())
        #expect(errorCode { _ = try ArtifactReader.decode(data, expectedFingerprint: ArtifactFixtures.otherFingerprint) } == .fingerprintMismatch)
        let allowed = try ArtifactReader.decode(data, expectedFingerprint: ArtifactFixtures.otherFingerprint, allowRecompile: true)
        #expect(allowed.needsRecompile)
        let matching = try ArtifactReader.decode(data, expectedFingerprint: ArtifactFixtures.fingerprint)
        #expect(!matching.needsRecompile)
    }

    @Test func aNewerMajorVersionIsRefusedFirst() throws {
        var data = try ArtifactWriter.encode(ArtifactFixtures.tree(), header: ArtifactFixtures.header())
        data[8] = 2
        data[100] ^= 0xFF  // damage elsewhere too: the version is read before anything else
        #expect(errorCode { _ = try ArtifactReader.decode(data) } == .artifactTooNew)
    }

    @Test func aNewerMinorVersionWithUnknownSectionsAndFieldsLoads() throws {
        let tree = try ArtifactFixtures.tree()
        var file = ArtifactAssembler(try ArtifactWriter.encode(tree, header: ArtifactFixtures.header()))
        file.minor = 7
        file["future.section"] = Data("anything".utf8)
        var header = try file.json("header")
        header["added_later"] = ["nested": true]
        try file.setJSON("header", header)
        var modules = try file.json("modules")
        modules["added_later"] = 1
        try file.setJSON("modules", modules)
        let artifact = try ArtifactReader.decode(file.assembled())
        #expect(artifact.version == FormatVersion(major: 1, minor: 7))
        #expect(artifact.sections.contains { $0.name == "future.section" })
        #expect(artifact.header == ArtifactFixtures.header())
        expectSameTree(artifact.tree, tree)
    }

    @Test func badContentUnderValidChecksumsIsMalformed() throws {
        let original = ArtifactAssembler(try ArtifactWriter.encode(ArtifactFixtures.tree(), header: ArtifactFixtures.header()))
        func load(_ edit: (inout ArtifactAssembler) throws -> Void) throws -> ErrorCode? {
            var file = original
            try edit(&file)
            let data = file.assembled()
            return errorCode { _ = try ArtifactReader.decode(data) }
        }
        #expect(try load { $0["header"] = Data("{".utf8) } == .artifactMalformed)
        #expect(try load { $0["header"] = nil } == .artifactMalformed)
        #expect(try load { $0["modules"] = Data("[]".utf8) } == .artifactMalformed)
        #expect(try load { $0["module.0"] = Data("not json".utf8) } == .artifactMalformed)
        #expect(try load { $0["module.1"] = nil } == .artifactMalformed)
        #expect(try load { file in
            var header = try file.json("header")
            header["quantization"] = ["state": "half-baked"]
            try file.setJSON("header", header)
        } == .artifactMalformed)
        func editConstant(_ field: String, _ value: Any) throws -> ErrorCode? {
            try load { file in
                var modules = try file.json("modules")
                var constants = modules["constants"] as? [[String: Any]] ?? []
                constants[0][field] = value
                modules["constants"] = constants
                try file.setJSON("modules", modules)
            }
        }
        #expect(try editConstant("offset", 1 << 40) == .artifactMalformed)
        #expect(try editConstant("offset", 8) == .artifactCorrupt)
        #expect(try editConstant("shape", [Int.max, Int.max, 0]) == .artifactMalformed)
        #expect(try editConstant("shape", [-1]) == .artifactMalformed)
        #expect(try editConstant("dtype", "complex128") == .artifactMalformed)
        #expect(try editConstant("symbol", "renamed") == .constantMissing)
        #expect(try load { file in
            var modules = try file.json("modules")
            var children = modules["children"] as? [[String: Any]] ?? []
            children[0]["kind"] = "tpu"
            modules["children"] = children
            try file.setJSON("modules", modules)
        } == .unknownModuleKind)
        #expect(try load { file in
            var modules = try file.json("modules")
            modules["version"] = 99
            try file.setJSON("modules", modules)
        } == .artifactTooNew)
        #expect(try load { file in
            file["module.1"] = try ArtifactFixtures.dpuModule(fingerprint: ArtifactFixtures.otherFingerprint).payload()
        } == .artifactMalformed)
    }

    @Test func notAnArtifactIsSaidSo() throws {
        let onnx = try Data(contentsOf: ArtifactFixtures.root.appendingPathComponent("Examples/mobilenetv2_tiny.onnx"))
        #expect(errorCode { _ = try ArtifactReader.decode(onnx) } == .notArtifact)
        let directory = try ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(errorCode { _ = try ArtifactReader.read(contentsOf: directory.appendingPathComponent("none.kiln")) } == .fileNotFound)
        #expect(errorCode { _ = try ArtifactReader.read(contentsOf: directory) } == .fileUnreadable)
    }

    @Test func aPluggedInBackEndIsNeededForItsModules() throws {
        let data = try ArtifactWriter.encode(ArtifactFixtures.richTree(), header: ArtifactFixtures.header())
        #expect(errorCode { _ = try ArtifactReader.decode(data) } == .unknownModuleKind)
        _ = try ArtifactReader.decode(data, backends: BackendRegistry.builtIn + [AlternativeCPUBackend()])
    }

    /// A real model: imported, partitioned for a DPU, packed, loaded back.
    @Test func partitionedModelRoundTrips() throws {
        let model = try ONNXImporter.importModel(
            contentsOf: ArtifactFixtures.root.appendingPathComponent("Examples/mobilenetv2_tiny.onnx"))
        let target = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
        let fingerprint = try #require(target.fingerprint)
        let partitioned = try InspectPipeline.inspect(model.graph, target: target).partition
        #expect(!partitioned.subgraphs.isEmpty)
        let programs = Dictionary(uniqueKeysWithValues: partitioned.subgraphs.map { ($0.id, Data("program \($0.id)".utf8)) })
        let tree = try ModuleTree(modules: [
            CPUModule(name: "cpu0", graph: partitioned.graph),
            DPUModule(name: "dpu0", fingerprint: fingerprint, programs: programs),
        ])
        var header = ArtifactFixtures.header()
        header.fingerprint = fingerprint
        let artifact = try ArtifactReader.decode(ArtifactWriter.encode(tree, header: header), expectedFingerprint: fingerprint)
        let cpu = try #require(artifact.tree.module(named: "cpu0") as? CPUModule)
        #expect(cpu.graph == partitioned.graph)
        for subgraph in partitioned.subgraphs {
            #expect(artifact.tree.module(exportingFunction: DPUModule.functionSymbol(subgraph: subgraph.id))?.name == "dpu0")
        }
    }

    /// Every model of the model script (when generated: `Scripts/test.sh`) survives the
    /// artifact as its CPU module's graph.
    @Test(arguments: ReferenceModels.manifest)
    func referenceModelGraphsRoundTrip(entry: ReferenceModels.Entry) throws {
        let graph = try ONNXImporter.importModel(contentsOf: entry.modelURL).graph
        let tree = try ModuleTree(modules: [CPUModule(name: "cpu0", graph: graph)])
        let artifact = try ArtifactReader.decode(ArtifactWriter.encode(tree, header: ArtifactFixtures.header()))
        let cpu = try #require(artifact.tree.module(named: "cpu0") as? CPUModule)
        #expect(cpu.graph == graph)
    }
}
