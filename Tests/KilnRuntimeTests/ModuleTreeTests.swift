import Foundation
import KilnCore
import KilnIR
import KilnRuntime
import KilnTestSupport
import Testing

@Suite struct ModuleTreeTests {
    @Test func metadataModuleOwnsEveryConstantAndHandsEachChildItsOwn() throws {
        let tree = try ArtifactFixtures.richTree()
        let cpu0 = try #require(tree.module(named: "cpu0"))
        let dpu0 = try #require(tree.module(named: "dpu0"))
        let cpu1 = try #require(tree.module(named: "cpu1"))
        #expect(cpu0.constantSymbols == ["cpu0/conv1.bias", "cpu0/conv1.weight", "cpu0/six"])
        #expect(dpu0.constantSymbols == ["dpu0/packed_weights"])
        #expect(cpu1.constantSymbols.count == 6)
        #expect(tree.root.constants.count == 10)
        for module in tree.modules {
            #expect(Set(module.constants.keys) == Set(module.constantSymbols))
            for (symbol, tensor) in module.constants { #expect(tree.root.constants[symbol] == tensor) }
        }
        #expect(tree.root.unusedSymbols.isEmpty)
    }

    @Test func functionsAreFoundBySymbol() throws {
        let tree = try ArtifactFixtures.richTree()
        #expect(tree.module(exportingFunction: CPUModule.entryFunction)?.name == "cpu0")
        #expect(tree.module(exportingFunction: "dpu_subgraph_3")?.name == "dpu0")
        #expect(tree.module(exportingFunction: "cpu1.main")?.name == "cpu1")
        #expect(tree.module(exportingFunction: "dpu_subgraph_1") == nil)
    }

    @Test func aMissingSymbolIsACodedError() throws {
        let cpu = CPUModule(name: "cpu0", graph: SampleGraphs.convolution())
        var constants = cpu.constants
        constants["cpu0/conv1.weight"] = nil
        var metadata = MetadataModule(constants: constants, children: [cpu])
        #expect(errorCode { try metadata.initializeChildren() } == .constantMissing)
        #expect(errorCode { _ = try ModuleTree(root: metadata) } == .constantMissing)
    }

    @Test func initializationRebuildsTheCPUGraph() throws {
        let graph = SampleGraphs.controlFlow()
        let cpu = CPUModule(name: "cpu0", graph: graph)
        let decoded = try CPUBackend().decodeModule(name: "cpu0", payload: cpu.payload())
        #expect(decoded.constants.isEmpty)
        var metadata = MetadataModule(constants: cpu.constants, children: [decoded])
        try metadata.initializeChildren()
        let initialized = try #require(metadata.children.first as? CPUModule)
        #expect(initialized.graph == graph)
    }

    @Test func clashingNamesFunctionsAndConstantsAreRefused() throws {
        let cpu = CPUModule(name: "cpu0", graph: SampleGraphs.convolution())
        #expect(errorCode { _ = try ModuleTree(modules: [cpu, CPUModuleWithOtherEntry(name: "cpu0", graph: Graph(name: "g"))]) } == .artifactMalformed)
        #expect(errorCode { _ = try ModuleTree(modules: [cpu, CPUModule(name: "cpu1", graph: Graph(name: "g"))]) } == .artifactMalformed)
        #expect(errorCode { _ = try ModuleTree(modules: [CPUModule(name: "metadata", graph: Graph(name: "g"))]) } == .artifactMalformed)
        let a = DPUModule(name: "a", fingerprint: ArtifactFixtures.fingerprint, programs: [:], constants: ["w": Tensor(scalar: Float(1))])
        let b = DPUModule(name: "b", fingerprint: ArtifactFixtures.fingerprint, programs: [:], constants: ["w": Tensor(scalar: Float(2))])
        #expect(errorCode { _ = try ModuleTree(modules: [a, b]) } == .artifactMalformed)
        let same = DPUModule(name: "c", fingerprint: ArtifactFixtures.fingerprint, programs: [:], constants: ["w": Tensor(scalar: Float(1))])
        #expect(try ModuleTree(modules: [a, same]).root.constants.count == 1)
    }

    @Test func dpuPayloadRoundTripsAndRejectsBadOffsets() throws {
        let module = ArtifactFixtures.dpuModule()
        let payload = try module.payload()
        let decoded = try #require(try DPUBackend().decodeModule(name: "dpu0", payload: payload) as? DPUModule)
        #expect(decoded.programs == module.programs)
        #expect(decoded.fingerprint == module.fingerprint)
        #expect(decoded.constantSymbols == module.constantSymbols)
        for length in [0, 4, 8, 20, payload.count - 1] {
            #expect(errorCode { _ = try DPUBackend().decodeModule(name: "dpu0", payload: payload.prefix(length)) } == .artifactMalformed)
        }
        var hugeManifest = payload
        hugeManifest.replaceSubrange(0..<8, with: [UInt8](repeating: 0xFF, count: 8))
        #expect(errorCode { _ = try DPUBackend().decodeModule(name: "dpu0", payload: hugeManifest) } == .artifactMalformed)
    }

    @Test func registryFindsBackEndsByKind() {
        #expect(BackendRegistry.backend(for: .cpu)?.kind == .cpu)
        #expect(BackendRegistry.backend(for: .dpu)?.kind == .dpu)
        #expect(BackendRegistry.backend(for: ModuleKind(rawValue: "cpu-alt")) == nil)
        #expect(BackendRegistry.backend(for: ModuleKind(rawValue: "cpu-alt"), in: BackendRegistry.builtIn + [AlternativeCPUBackend()]) != nil)
    }
}
