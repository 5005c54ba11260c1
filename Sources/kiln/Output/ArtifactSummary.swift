import Foundation
import KilnCore
import KilnDPU
import KilnRuntime
import KilnTargets

/// What `kiln show ARTIFACT` prints: the header, the module tree and the sections.
struct ArtifactSummary: Encodable {
    struct ModuleInfo: Encodable {
        let name: String
        let kind: String
        let constants: [String]
        let constantBytes: Int
        let functions: [String]
        let facts: [String: String]

        enum CodingKeys: String, CodingKey {
            case name, kind, constants, constantBytes = "constant_bytes", functions, facts
        }
    }

    struct Tree: Encodable {
        let name: String
        let kind: String
        let constants: Int
        let constantBytes: Int
        let children: [ModuleInfo]

        enum CodingKeys: String, CodingKey {
            case name, kind, constants, constantBytes = "constant_bytes", children
        }
    }

    struct Section: Encodable {
        let name: String
        let offset: Int
        let length: Int
        let sha256: String
    }

    let artifact: String
    let formatVersion: String
    let fileBytes: Int
    let producer: String
    let target: String
    let fingerprint: String
    let modelSHA256: String
    let quantization: QuantizationState
    let tree: Tree
    let sections: [Section]
    /// The graph executor's memory plan for the CPU module, when its shapes are static.
    let memoryPlan: MemoryPlan?
    /// Why there is no memory plan (control flow, dynamic shapes), when there is none.
    let memoryPlanNote: String?
    /// Each DPU subgraph and where it runs (DPU program, or float body while uncalibrated).
    let subgraphs: [CompileSummary.Subgraph]

    enum CodingKeys: String, CodingKey {
        case artifact, formatVersion = "format_version", fileBytes = "file_bytes", producer, target, fingerprint
        case modelSHA256 = "model_sha256", quantization, tree, sections
        case memoryPlan = "memory_plan", memoryPlanNote = "memory_plan_note", subgraphs
    }

    init(path: String, artifact loaded: Artifact) {
        let root = loaded.tree.root
        artifact = path
        formatVersion = loaded.version.description
        fileBytes = loaded.fileLength
        producer = loaded.header.producer
        target = loaded.header.target
        fingerprint = loaded.header.fingerprint.description
        modelSHA256 = loaded.header.modelSHA256
        quantization = loaded.header.quantization
        tree = Tree(
            name: MetadataModule.rootName, kind: ModuleKind.metadata.rawValue, constants: root.constants.count,
            constantBytes: root.constantBytes,
            children: root.children.map { module in
                ModuleInfo(
                    name: module.name, kind: module.kind.rawValue, constants: module.constantSymbols,
                    constantBytes: module.constants.values.reduce(0) { $0 + $1.byteCount },
                    functions: module.functionSymbols, facts: module.facts)
            })
        sections = loaded.sections.map {
            Section(name: $0.name, offset: $0.offset, length: $0.length, sha256: Checksum.hex($0.sha256))
        }
        (memoryPlan, memoryPlanNote) = Self.plan(loaded)
        subgraphs = Self.subgraphs(loaded)
    }

    /// Each subgraph with, when compiled, its program's ports and the predicted time of a call
    /// (the performance model at the target's default clock).
    private static func subgraphs(_ artifact: Artifact) -> [CompileSummary.Subgraph] {
        let dpu = artifact.tree.modules.compactMap { $0 as? DPUModule }.first
        let predicted: [Int: Double] = {
            guard let graph = try? artifact.entryModule().graph,
                let architecture = try? Catalog.architecture(fingerprint: artifact.header.fingerprint),
                let model = DPUCostModel(architecture: architecture, board: nil)
            else { return [:] }
            let rows = PerformanceModel.predict(graph, with: model).subgraphs
            return Dictionary(rows.map { ($0.id, $0.latencyMs) }, uniquingKeysWith: { first, _ in first })
        }()
        return ((try? ModelCompiler.subgraphs(of: artifact)) ?? []).map { compiled in
            var subgraph = CompileSummary.Subgraph(compiled)
            if let program = dpu?.program(subgraph: compiled.id) {
                let port = { (index: Int) -> CompileSummary.Subgraph.Port in
                    let buffer = program.buffers[index]
                    return .init(name: buffer.name, shape: buffer.shape, fixPosition: buffer.fixPosition)
                }
                subgraph.inputs = program.inputs.filter { program.buffers.indices.contains($0) }.map(port)
                subgraph.outputs = program.outputs.filter { program.buffers.indices.contains($0) }.map(port)
                subgraph.predictedMs = predicted[compiled.id]
            }
            return subgraph
        }
    }

    /// The entry module's memory plan under the graph executor, or why there is none.
    private static func plan(_ artifact: Artifact) -> (MemoryPlan?, String?) {
        guard let module = try? artifact.entryModule(), let graph = module.graph else {
            return (nil, "no CPU entry module")
        }
        if let reason = GraphExecutor.unsupportedReason(graph) { return (nil, reason + "; it runs on the VM") }
        do {
            return (try GraphExecutor(graph: graph).memoryPlan, nil)
        } catch let error as KilnError {
            return (nil, "the graph executor cannot plan it: \(error.message)")
        } catch {
            return (nil, "the graph executor cannot plan it")
        }
    }

    /// The human-readable form.
    var text: String {
        var lines = [
            "artifact \(artifact): format \(formatVersion), \(fileBytes) bytes, written by \(producer)",
            "target        \(target) (fingerprint \(fingerprint))",
            "model         sha256 \(modelSHA256)",
            "quantization  \(quantization.summary)",
            "",
            "module tree",
            "  \(tree.name)  \(count(tree.constants, "constant")), \(tree.constantBytes) bytes",
        ]
        for (index, child) in tree.children.enumerated() {
            let branch = index == tree.children.count - 1 ? "└──" : "├──"
            let facts = child.facts.keys.sorted().map { "\($0) \(child.facts[$0] ?? "")" }.joined(separator: ", ")
            lines.append(
                "  \(branch) \(child.name) (\(child.kind))  "
                    + "\(count(child.constants.count, "constant")), \(child.constantBytes) bytes"
                    + (facts.isEmpty ? "" : "; \(facts)"))
            let indent = index == tree.children.count - 1 ? "      " : "  │   "
            if !child.functions.isEmpty {
                lines.append("\(indent)functions: \(child.functions.joined(separator: ", "))")
            }
        }
        if !subgraphs.isEmpty {
            lines += ["", "subgraphs"]
            for subgraph in subgraphs {
                var line = "  dpu_subgraph_\(subgraph.id)  \(subgraph.nodes) nodes  \(subgraph.device)"
                if let instructions = subgraph.instructions {
                    line += "  \(instructions) instructions, \(subgraph.programBytes) program bytes"
                }
                if let predicted = subgraph.predictedMs {
                    line += String(format: ", predicted %.3f ms on the device", predicted)
                }
                lines.append(line)
                lines += subgraph.portLines
            }
        }
        if let memoryPlan {
            lines += [
                "",
                "memory plan   arena \(memoryPlan.arenaBytes) bytes vs sum of intermediate tensors "
                    + "\(memoryPlan.intermediateBytes) bytes (\(String(format: "%.1f", memoryPlan.ratio * 100))%)",
                "              \(memoryPlan.intermediateCount) intermediates, \(memoryPlan.inPlaceCount) in place, "
                    + "\(memoryPlan.aliasCount) aliases, \(memoryPlan.unplannedCount) unplanned",
            ]
        } else if let memoryPlanNote {
            lines += ["", "memory plan   none: \(memoryPlanNote)"]
        }
        lines += ["", "sections"]
        let rows = [["NAME", "OFFSET", "BYTES", "SHA-256"]]
            + sections.map { [$0.name, String($0.offset), String($0.length), $0.sha256] }
        let widths = (0..<3).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let name = row[0].padding(toLength: widths[0], withPad: " ", startingAt: 0)
            let offset = String(repeating: " ", count: widths[1] - row[1].count) + row[1]
            let length = String(repeating: " ", count: widths[2] - row[2].count) + row[2]
            lines.append("  \(name)  \(offset)  \(length)  \(row[3])")
        }
        return lines.joined(separator: "\n")
    }

    private func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }
}
