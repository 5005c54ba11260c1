import Foundation
import KilnCore
import KilnIR
import KilnQuant
import KilnRuntime
import KilnTargets
import KilnTestSupport
import Testing

/// Module trees, headers and files shared by the runtime tests.
enum ArtifactFixtures {
    /// DPUCZDX8G_ISA1_B4096 (ZCU102).
    static let fingerprint = Fingerprint(rawValue: 0x101_0000_1601_0407)
    /// Another DPU configuration (KV260's B3136).
    static let otherFingerprint = Fingerprint(rawValue: 0x101_0000_1601_0406)

    static func header(_ quantization: QuantizationState = .uncalibrated) -> ArtifactHeader {
        ArtifactHeader(
            producer: "kiln-tests", target: "DPUCZDX8G_ISA1_B4096", fingerprint: fingerprint,
            modelSHA256: Checksum.sha256Hex(Data("model bytes".utf8)), quantization: quantization)
    }

    static var plan: QuantizationPlan {
        var plan = QuantizationPlan(scale: .pow2, target: "DPUCZDX8G_ISA1_B4096", method: .minmax, calibrationSamples: 8)
        plan.tensors["x"] = .fixPosition(6, roundMode: .halfUp, method: .minmax)
        plan.tensors["conv1.weight"] = .fixPosition(7, roundMode: .halfUp)
        return plan
    }

    /// A DPU module with two programs and one constant of its own.
    static func dpuModule(fingerprint: Fingerprint = fingerprint) -> DPUModule {
        DPUModule(
            name: "dpu0", fingerprint: fingerprint,
            programs: [0: Data([0xDE, 0xAD, 0xBE, 0xEF]), 3: Data((0..<100).map { UInt8($0) })],
            constants: ["dpu0/packed_weights": Tensor(shape: [3, 5], scalars: (0..<15).map { Int8($0 - 7) })])
    }

    /// A CPU module over the sample convolution and a DPU module.
    static func tree(channels: Int = 2) throws -> ModuleTree {
        try ModuleTree(modules: [CPUModule(name: "cpu0", graph: SampleGraphs.convolution(channels: channels)), dpuModule()])
    }

    /// A tree with the sample control-flow graph too (nested graphs, tensor attributes).
    static func richTree() throws -> ModuleTree {
        try ModuleTree(modules: [
            CPUModule(name: "cpu0", graph: SampleGraphs.convolution()), dpuModule(),
            CPUModuleWithOtherEntry(name: "cpu1", graph: SampleGraphs.controlFlow()),
        ])
    }

    /// A fresh directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-artifact-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The package's root directory.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}

/// A CPU module exporting another entry name, so two CPU modules fit in one tree.
struct CPUModuleWithOtherEntry: Module {
    var base: CPUModule
    init(name: String, graph: Graph) { base = CPUModule(name: name, graph: graph) }
    init(base: CPUModule) { self.base = base }
    var name: String { base.name }
    var kind: ModuleKind { ModuleKind(rawValue: "cpu-alt") }
    var constantSymbols: [String] { base.constantSymbols }
    var functionSymbols: [String] { [name + ".main"] }
    var constants: [String: Tensor] { base.constants }
    var facts: [String: String] { base.facts }
    mutating func initialize(constants: [String: Tensor]) throws { try base.initialize(constants: constants) }
    func payload() throws -> Data { try base.payload() }
}

/// The back end of ``CPUModuleWithOtherEntry``: a plug-in, as another accelerator would be.
struct AlternativeCPUBackend: Backend {
    var kind: ModuleKind { ModuleKind(rawValue: "cpu-alt") }
    var summary: String { "a second CPU back end, for tests" }
    func decodeModule(name: String, payload: Data) throws -> any Module {
        guard let base = try CPUBackend().decodeModule(name: name, payload: payload) as? CPUModule else {
            throw KilnError(.artifactMalformed, "not a CPU module")
        }
        return CPUModuleWithOtherEntry(base: base)
    }
}

/// Every code a damaged artifact may load with.
let artifactErrorCodes: Set<ErrorCode> = [
    .notArtifact, .artifactTooNew, .artifactTruncated, .artifactCorrupt, .artifactMalformed,
]

/// The code of the error `body` throws, recording an issue when it throws none or a
/// non-Kiln error.
func errorCode(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> ErrorCode? {
    do {
        try body()
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return nil
    } catch let error as KilnError {
        return error.code
    } catch {
        Issue.record("not a KilnError: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Asserts that two trees hold the same modules, constants and code.
func expectSameTree(_ loaded: ModuleTree, _ original: ModuleTree, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(loaded.root.constants == original.root.constants, sourceLocation: sourceLocation)
    #expect(loaded.modules.map(\.name) == original.modules.map(\.name), sourceLocation: sourceLocation)
    for (mine, theirs) in zip(loaded.modules, original.modules) {
        #expect(mine.kind == theirs.kind, sourceLocation: sourceLocation)
        #expect(mine.constantSymbols == theirs.constantSymbols, sourceLocation: sourceLocation)
        #expect(mine.functionSymbols == theirs.functionSymbols, sourceLocation: sourceLocation)
        #expect(mine.constants == theirs.constants, sourceLocation: sourceLocation)
        #expect((try? mine.payload()) == (try? theirs.payload()), sourceLocation: sourceLocation)
    }
}
