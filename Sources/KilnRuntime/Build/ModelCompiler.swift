import Foundation
import KilnCore
import KilnDPU
import KilnIR
import KilnPasses
import KilnQuant
import KilnTargets

/// A model compiled for a DPU target: the module tree and the header of its artifact, and
/// what became of each DPU subgraph.
public struct CompiledModel: Sendable {
    /// The header (`.uncalibrated`, or `.calibrated(plan)`).
    public var header: ArtifactHeader
    /// The metadata module, the CPU module (`cpu0`) and the DPU module (`dpu0`).
    public var tree: ModuleTree
    /// Each DPU subgraph of the partition, by id.
    public var subgraphs: [CompiledSubgraph]

    /// The model as an in-memory ``Artifact`` (what loading its file gives).
    public var artifact: Artifact {
        Artifact(
            version: ArtifactFormat.version, header: header, tree: tree, sections: [], fileLength: 0,
            needsRecompile: false)
    }
}

/// One `dpuSubgraph` of a compiled model.
public struct CompiledSubgraph: Sendable, Equatable {
    /// Where the subgraph runs.
    public enum Device: Sendable, Equatable {
        /// On the DPU (the emulator): a compiled program.
        case dpu
        /// In float on the CPU, because the artifact is not calibrated yet.
        case floatUncalibrated
        /// In float on the CPU, because the DPU compiler refused it (why).
        case floatRefused(String)

        /// `DPU`, `CPU float (uncalibrated)` or `CPU float (refused: …)`.
        public var description: String {
            switch self {
            case .dpu: "DPU"
            case .floatUncalibrated: "CPU float (uncalibrated: runs its float body until calibrated)"
            case .floatRefused(let why): "CPU float (the DPU compiler refused it: \(why))"
            }
        }
    }

    /// The subgraph id (`dpu_subgraph_<id>`).
    public var id: Int
    /// The calling node's name.
    public var name: String
    /// Nodes in the body.
    public var nodes: Int
    /// Where it runs.
    public var device: Device
    /// Instructions of the compiled program (`nil` without a program).
    public var instructions: Int?
    /// Bytes of the serialized program (`0` without a program).
    public var programBytes: Int
}

/// Turns a float model (and, when calibrated, its quantized form) into the module tree of an
/// artifact for one DPU target: `relay.build` for Kiln.
///
/// ```swift
/// let compiled = try ModelCompiler.compile(graph, modelSHA256: sha, architecture: arch)          // uncalibrated
/// let accelerated = try ModelCompiler.compile(quantized, modelSHA256: sha, architecture: arch)   // calibrated
/// try ArtifactWriter.write(accelerated.tree, header: accelerated.header, to: url)
/// ```
public enum ModelCompiler {
    /// The name of the CPU module.
    public static let cpuModuleName = "cpu0"
    /// The name of the DPU module.
    public static let dpuModuleName = "dpu0"
    /// The header's producer.
    public static let producer = "kiln"

    /// Compiles a float model without calibration: canonicalized, partitioned for the
    /// target; the DPU subgraphs keep their float bodies and the DPU module holds no program
    /// (an ``InferenceSession`` calibrates on the fly and compiles them).
    ///
    /// - Parameters:
    ///   - graph: The imported float model.
    ///   - modelSHA256: The SHA-256 of the model file's bytes (the build-cache key).
    ///   - architecture: The DPU target; it needs a public fingerprint.
    ///   - threads: Threads for the preparation passes.
    /// - Throws: `badArgument` for a target without a public fingerprint; what the passes throw.
    public static func compile(
        _ graph: Graph, modelSHA256: String, architecture: DPUArchitecture, threads: Int = 1
    )
        throws -> CompiledModel
    {
        let fingerprint = try fingerprint(of: architecture)
        let (canonical, _) = try PassManager(InspectPipeline.preparation).run(
            graph, context: PassContext(threads: threads))
        let partitioned = try partition(canonical, annotation: annotate(canonical, for: architecture)).graph
        let subgraphs = try partitioned.nodes.filter { $0.op == .dpuSubgraph }.map { node in
            let call = try SubgraphCall(node: node)
            return CompiledSubgraph(
                id: call.id, name: node.name, nodes: call.body?.nodes.count ?? 0, device: .floatUncalibrated,
                instructions: nil, programBytes: 0)
        }
        let tree = try ModuleTree(modules: [
            CPUModule(name: cpuModuleName, graph: partitioned),
            DPUModule(name: dpuModuleName, fingerprint: fingerprint, programs: [:]),
        ])
        let header = ArtifactHeader(
            producer: producer, target: architecture.name, fingerprint: fingerprint, modelSHA256: modelSHA256,
            quantization: .uncalibrated)
        return CompiledModel(header: header, tree: tree, subgraphs: subgraphs)
    }

    /// Compiles a quantized model: its graph partitioned for the target, each DPU subgraph
    /// compiled with the plan (``KilnDPU/DPUCompiler``). A subgraph the DPU compiler refuses
    /// (`dpuUnsupportedNode`: a node the quantizer left in float) keeps running its float
    /// body, and says so in ``CompiledModel/subgraphs``.
    ///
    /// - Throws: `badArgument` for a target without a public fingerprint; the DPU
    ///   compiler's other errors (`dpuNoFixPosition`, `dpuTileTooLarge`).
    public static func compile(
        _ quantized: QuantizedModel, modelSHA256: String, architecture: DPUArchitecture
    )
        throws -> CompiledModel
    {
        try compile(
            quantizedGraph: quantized.graph, plan: quantized.plan, modelSHA256: modelSHA256, architecture: architecture)
    }

    /// ``compile(_:modelSHA256:architecture:)`` from the quantized graph and its plan (e.g. a
    /// calibrated artifact's graph with its subgraphs inlined, to recompile it for another
    /// target).
    public static func compile(
        quantizedGraph graph: Graph, plan: QuantizationPlan, modelSHA256: String, architecture: DPUArchitecture
    ) throws -> CompiledModel {
        let fingerprint = try fingerprint(of: architecture)
        let partitioned = try partition(graph, annotation: annotate(graph, for: architecture)).graph
        var programs: [Int: Data] = [:]
        var subgraphs: [CompiledSubgraph] = []
        for node in partitioned.nodes where node.op == .dpuSubgraph {
            let call = try SubgraphCall(node: node)
            guard let body = call.body else {
                throw KilnError(.invalidModel, "[dpuSubgraph] node '\(node.name)' has no body")
            }
            var entry = CompiledSubgraph(
                id: call.id, name: node.name, nodes: body.nodes.count, device: .dpu, instructions: nil, programBytes: 0)
            do {
                let program = try DPUCompiler.compile(subgraph: body, plan: plan, architecture: architecture)
                let bytes = try program.serialized()
                programs[call.id] = bytes
                entry.instructions = program.instructions.count
                entry.programBytes = bytes.count
            } catch let error as KilnError where error.code == .dpuUnsupportedNode {
                entry.device = .floatRefused(error.message)
            }
            subgraphs.append(entry)
        }
        let tree = try ModuleTree(modules: [
            CPUModule(name: cpuModuleName, graph: partitioned),
            DPUModule(name: dpuModuleName, fingerprint: fingerprint, programs: programs),
        ])
        let header = ArtifactHeader(
            producer: producer, target: architecture.name, fingerprint: fingerprint, modelSHA256: modelSHA256,
            quantization: .calibrated(plan))
        return CompiledModel(header: header, tree: tree, subgraphs: subgraphs)
    }

    /// Calibrates an uncalibrated compiled model offline (`kiln compile --calib`): the float
    /// model it holds (``floatGraph(of:)``, the graph on-the-fly calibration observes too) is
    /// quantized over `calibration` with `config` (its target set to `architecture`), then
    /// compiled. On the same samples this gives the plan and programs an
    /// ``InferenceSession`` gives after on-the-fly quantization.
    ///
    /// - Throws: the quantizer's and ``compile(_:modelSHA256:architecture:)``'s errors.
    public static func calibrate(
        _ artifact: Artifact, calibration: CalibrationSet, config: QuantizationConfig, architecture: DPUArchitecture,
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> (compiled: CompiledModel, quantized: QuantizedModel) {
        var config = config
        config.target = architecture
        let quantized = try Quantizer.quantize(
            floatGraph(of: artifact), calibration: calibration, config: config, progress: progress)
        return (try compile(quantized, modelSHA256: artifact.header.modelSHA256, architecture: architecture), quantized)
    }

    /// Rebuilds an artifact for another DPU: its float model (``floatGraph(of:)``) compiled
    /// again for `architecture`, with the artifact's plan when it is calibrated (the plan's
    /// fix positions do not depend on the DPU configuration).
    ///
    /// - Throws: what ``compile(_:modelSHA256:architecture:threads:)`` and
    ///   ``compile(quantizedGraph:plan:modelSHA256:architecture:)`` throw.
    public static func recompile(
        _ artifact: Artifact, for architecture: DPUArchitecture, threads: Int = 1
    ) throws
        -> Artifact
    {
        let graph = try floatGraph(of: artifact)
        let sha = artifact.header.modelSHA256
        switch artifact.header.quantization {
        case .uncalibrated:
            return try compile(graph, modelSHA256: sha, architecture: architecture, threads: threads).artifact
        case .calibrated(let plan):
            return try compile(quantizedGraph: graph, plan: plan, modelSHA256: sha, architecture: architecture).artifact
        }
    }

    /// The float model an artifact holds: its CPU graph with every DPU subgraph's body inlined
    /// (canonical, as partitioning left it).
    ///
    /// - Throws: `constantMissing` for an uninitialized CPU module; `invalidModel`.
    public static func floatGraph(of artifact: Artifact) throws -> Graph {
        try entryGraph(of: artifact).inliningDPUSubgraphs().graph
    }

    /// The graph of an artifact's CPU module (DPU subgraphs as `dpuSubgraph` nodes).
    ///
    /// - Throws: `functionNotFound` without a CPU module; `constantMissing` when it is not initialized.
    public static func entryGraph(of artifact: Artifact) throws -> Graph {
        guard let graph = try artifact.entryModule().graph else {
            throw KilnError(.constantMissing, "the artifact's CPU module is not initialized")
        }
        return graph
    }

    /// The subgraphs of an artifact's CPU module and where each runs.
    public static func subgraphs(of artifact: Artifact) throws -> [CompiledSubgraph] {
        guard let graph = try artifact.entryModule().graph else { return [] }
        let dpu = artifact.tree.modules.compactMap { $0 as? DPUModule }.first
        let calibrated = if case .calibrated = artifact.header.quantization { true } else { false }
        return try graph.nodes.filter { $0.op == .dpuSubgraph }.map { node in
            let call = try SubgraphCall(node: node)
            let program = dpu?.program(subgraph: call.id)
            let device: CompiledSubgraph.Device =
                program != nil
                ? .dpu : calibrated ? .floatRefused("no program for it in the artifact") : .floatUncalibrated
            return CompiledSubgraph(
                id: call.id, name: node.name, nodes: call.body?.nodes.count ?? 0, device: device,
                instructions: program?.instructions.count, programBytes: dpu?.programs[call.id]?.count ?? 0)
        }
    }

    /// The target's fingerprint, which an artifact header needs.
    static func fingerprint(of architecture: DPUArchitecture) throws -> Fingerprint {
        guard let fingerprint = architecture.fingerprint else {
            throw KilnError(
                .badArgument,
                "target \(architecture.name) has no public fingerprint, which an artifact records; "
                    + "choose a target with one (kiln targets)")
        }
        return fingerprint
    }
}
