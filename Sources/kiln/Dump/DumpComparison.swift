import Foundation
import KilnCore
import KilnQuant
import KilnRuntime

/// The golden compare of `kiln run --compare-dump DIR`: runs the quantizer's fake-quant
/// simulation (QuantSim on the artifact's float graph and plan) on the run's inputs and
/// checks, tensor by tensor, that a dump's integers equal `round(value × 2^fix)` of the
/// simulation's value of the same name.
struct DumpComparison: Encodable {
    /// One compared tensor.
    struct Row: Encodable {
        let subgraph: Int
        let tensor: String
        let role: SubgraphDump.Role
        let elements: Int
        let mismatches: Int
        let maxAbsDiff: Int
        /// `MATCH`, `MISMATCH`, or `MISSING` (the simulation computes no value of that name).
        let result: String

        enum CodingKeys: String, CodingKey {
            case subgraph, tensor, role, elements, mismatches
            case maxAbsDiff = "max_abs_diff"
            case result
        }
    }

    let dump: String
    let target: String
    let rows: [Row]
    let mismatched: Int

    var matches: Bool { mismatched == 0 }

    /// Compares the dump in `directory` with QuantSim on `inputs`.
    ///
    /// - Throws: `badArgument` for an uncalibrated artifact or a dump of another target;
    ///   what reading the dump and QuantSim throw.
    static func run(
        artifact: Artifact, inputs: [String: Tensor], directory: URL, threads: Int
    ) throws -> DumpComparison {
        guard case .calibrated(let plan) = artifact.header.quantization else {
            throw KilnError(.badArgument, "--compare-dump needs a calibrated artifact (it compares with the quantization plan)")
        }
        let index = try DumpIndex.read(from: directory)
        guard index.fingerprint == artifact.header.fingerprint.description else {
            throw KilnError(
                .badArgument,
                "the dump in \(directory.path) is of \(index.target) (\(index.fingerprint)), the artifact is for "
                    + "\(artifact.header.target) (\(artifact.header.fingerprint))")
        }
        let wanted = Set(index.subgraphs.flatMap { $0.tensors.map(\.name) })
        let store = ValueStore(wanted: wanted)
        let model = QuantizedModel(
            graph: try ModelCompiler.floatGraph(of: artifact), plan: plan,
            report: QuantReport(samples: 0, layers: [], outputs: []))
        _ = try QuantSim.run(model, inputs: inputs, threads: threads, observe: store.record)
        let simulated = store.values
        var rows: [Row] = []
        for subgraph in index.subgraphs {
            for entry in subgraph.tensors {
                let dumped = try DumpIndex.integers(of: entry, in: directory)
                guard let value = simulated[entry.name], value.count == dumped.count else {
                    rows.append(
                        Row(
                            subgraph: subgraph.id, tensor: entry.name, role: entry.role, elements: entry.elements,
                            mismatches: entry.elements, maxAbsDiff: 0, result: "MISSING"))
                    continue
                }
                let scale = exp2(Double(entry.fixPosition))
                var mismatches = 0
                var maxDiff = 0
                value.doubleScalars().withUnsafeBufferPointer { reals in
                    for index in 0..<dumped.count {
                        let expected = (reals[index] * scale).rounded()
                        let diff = abs(Double(dumped[index]) - expected)
                        if diff != 0 {
                            mismatches += 1
                            maxDiff = max(maxDiff, diff.isFinite ? Int(min(diff, 1e9)) : Int(1e9))
                        }
                    }
                }
                rows.append(
                    Row(
                        subgraph: subgraph.id, tensor: entry.name, role: entry.role, elements: entry.elements,
                        mismatches: mismatches, maxAbsDiff: maxDiff, result: mismatches == 0 ? "MATCH" : "MISMATCH"))
            }
        }
        return DumpComparison(
            dump: directory.path, target: index.target, rows: rows,
            mismatched: rows.filter { $0.result != "MATCH" }.count)
    }

    /// The text table: one row per tensor, then a summary line.
    var table: String {
        let width = max(6, rows.map(\.tensor.count).max() ?? 0)
        func pad(_ text: String, _ count: Int) -> String {
            text.count >= count ? text : text + String(repeating: " ", count: count - text.count)
        }
        func left(_ text: String, _ count: Int) -> String {
            text.count >= count ? text : String(repeating: " ", count: count - text.count) + text
        }
        var lines = [
            "\(pad("SUBGRAPH", 9)) \(pad("TENSOR", width)) \(pad("ROLE", 12)) \(left("ELEMENTS", 9)) "
                + "\(left("MISMATCHES", 10)) \(left("MAX|DIFF|", 9))  RESULT"
        ]
        for row in rows {
            lines.append(
                "\(pad(String(row.subgraph), 9)) \(pad(row.tensor, width)) \(pad(row.role.rawValue, 12)) "
                    + "\(left(String(row.elements), 9)) \(left(String(row.mismatches), 10)) "
                    + "\(left(String(row.maxAbsDiff), 9))  \(row.result)")
        }
        lines.append("\(rows.count - mismatched) of \(rows.count) tensors match the fake-quant simulation")
        return lines.joined(separator: "\n")
    }
}

/// The simulation's values of the dumped names, collected from QuantSim's observer.
private final class ValueStore: @unchecked Sendable {
    private let lock = NSLock()
    private let wanted: Set<String>
    private var stored: [String: Tensor] = [:]

    init(wanted: Set<String>) { self.wanted = wanted }

    var values: [String: Tensor] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    func record(_ name: String, _ tensor: Tensor) {
        guard wanted.contains(name) else { return }
        lock.lock()
        defer { lock.unlock() }
        if stored[name] == nil { stored[name] = tensor }
    }
}
