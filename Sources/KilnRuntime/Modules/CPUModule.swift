import Foundation
import KilnCore
import KilnIR

/// The CPU part of a compiled model.
///
/// For now it carries the partitioned graph as a ``GraphDocument`` (DPU regions appear as
/// `dpuSubgraph` nodes, which call the ``DPUModule`` function of their `id`); the graph's
/// tensors are constants of the metadata module. The kernel plan (kernel calls with
/// attributes, no IR walking at run time) is compiled from the graph at load by
/// ``makeExecutor(_:runner:inputShapes:threads:optimization:)`` (``GraphExecutor``'s ``ExecutionPlan``
/// or the ``VirtualMachine``'s bytecode).
///
/// ```swift
/// let cpu = CPUModule(name: "cpu0", graph: partitioned)   // constants: "cpu0/conv1.weight", …
/// let tree = try ModuleTree(modules: [cpu])
/// ```
public struct CPUModule: Module {
    /// The function a CPU module exports: the model's entry point.
    public static let entryFunction = "main"

    /// The module's name.
    public let name: String
    /// The graph, its tensors named by symbol.
    public let document: GraphDocument
    /// The symbols of the graph's tensors.
    public let constantSymbols: [String]
    /// The constants handed to the module.
    public private(set) var constants: [String: Tensor]
    /// The graph with its constants, once initialized.
    public private(set) var graph: Graph?

    /// Always ``ModuleKind/cpu``.
    public var kind: ModuleKind { .cpu }
    /// ``entryFunction``.
    public var functionSymbols: [String] { [Self.entryFunction] }

    /// A module for `graph`, holding the graph's tensors as constants named
    /// `name/<value name>` (see ``KilnIR/Graph/encodedWithoutConstants(symbolPrefix:)``).
    public init(name: String, graph: Graph) {
        let (document, constants) = graph.encodedWithoutConstants(symbolPrefix: name + "/")
        self.name = name
        self.document = document
        constantSymbols = document.constantSymbols
        self.constants = constants
        self.graph = graph
    }

    /// A module decoded from an artifact, not yet initialized.
    init(name: String, document: GraphDocument) {
        self.name = name
        self.document = document
        constantSymbols = document.constantSymbols
        constants = [:]
        graph = nil
    }

    /// Node, input and output counts, and the DPU subgraphs it calls.
    public var facts: [String: String] {
        let calls = document.nodes.filter { $0.op == OpKind.dpuSubgraph.rawValue }.count
        let initialized = Set(document.initializers.map(\.value))
        let inputs = document.inputs.filter { !initialized.contains($0) }.count
        return [
            "graph": document.name, "nodes": String(document.nodes.count), "inputs": String(inputs),
            "outputs": String(document.outputs.count), "dpu_calls": String(calls),
        ]
    }

    /// Rebuilds ``graph`` from the document and `constants`.
    ///
    /// - Throws: `constantMissing`, `artifactMalformed` (see ``KilnIR/Graph/init(document:constants:)``).
    public mutating func initialize(constants: [String: Tensor]) throws {
        graph = try Graph(document: document, constants: constants)
        self.constants = constants
    }

    /// The graph document as JSON.
    public func payload() throws -> Data {
        try ArtifactJSON.encode(Payload(version: Payload.currentVersion, graph: document), what: "CPU module '\(name)'")
    }

    /// The payload's JSON; fields are only ever added.
    struct Payload: Codable {
        static let currentVersion = 1
        var version: Int
        var graph: GraphDocument
    }
}

/// Decodes ``CPUModule`` payloads.
public struct CPUBackend: Backend {
    /// Creates the back end.
    public init() {}

    /// ``ModuleKind/cpu``.
    public var kind: ModuleKind { .cpu }
    /// One line for `kiln show`.
    public var summary: String { "CPU: the partitioned graph, run by the CPU kernels" }

    /// Decodes the JSON payload.
    ///
    /// - Throws: `artifactMalformed` for JSON that does not decode; `artifactTooNew` for a
    ///   newer payload version.
    public func decodeModule(name: String, payload: Data) throws -> any Module {
        let decoded = try ArtifactJSON.decode(CPUModule.Payload.self, from: payload, what: "CPU module '\(name)'")
        guard decoded.version <= CPUModule.Payload.currentVersion else {
            throw KilnError(
                .artifactTooNew,
                "CPU module '\(name)' has payload version \(decoded.version); "
                    + "this Kiln reads up to \(CPUModule.Payload.currentVersion)")
        }
        return CPUModule(name: name, document: decoded.graph)
    }
}
