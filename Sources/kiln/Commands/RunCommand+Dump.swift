import Foundation
import KilnCore
import KilnIR
import KilnRuntime

extension RunCommand {
    /// The option checks of `--dump` / `--compare-dump`.
    ///
    /// - Throws: `badArgument`.
    func checkDumpArguments() throws {
        if calibrate || export != nil || profile != nil {
            throw KilnError(.badArgument, "--dump and --compare-dump do not combine with --calibrate, --export or --profile")
        }
    }

    /// Refuses what has no DPU program to dump: an ONNX model, an artifact whose DPU
    /// module holds no compiled program (uncalibrated).
    ///
    /// - Throws: `badArgument`.
    static func checkDumpable(_ artifact: Artifact?) throws {
        guard let artifact else {
            throw KilnError(.badArgument, "--dump and --compare-dump take a compiled .kiln artifact, not an ONNX model")
        }
        guard artifact.hasDPUPrograms else {
            throw KilnError(
                .badArgument,
                "the artifact has no compiled DPU program to dump (\(artifact.header.quantization.summary)): calibrate and compile it first")
        }
    }

    /// Writes the recorded dump to `path` and says what it wrote.
    ///
    /// - Throws: `badArgument` when no DPU subgraph ran on the emulator; `writeFailed`.
    func writeDump(_ recorder: SubgraphDumpRecorder, artifact: Artifact, to path: String) throws {
        guard !recorder.dumps.isEmpty else {
            throw KilnError(.badArgument, "no DPU subgraph ran on the emulator: nothing to dump")
        }
        let index = try DumpIndex.write(recorder, artifact: artifact, model: model, to: URL(fileURLWithPath: path))
        let files = index.subgraphs.reduce(0) { $0 + $1.tensors.count }
        if !json { print("wrote \(files) tensor(s) of \(index.subgraphs.count) DPU subgraph(s) to \(path)") }
    }

    /// Compares the dump in `directory` with QuantSim, prints the table (or the JSON
    /// document), and fails on a mismatch.
    ///
    /// - Throws: `dpuDumpMismatch` when any tensor differs or is missing.
    func compareWithDump(artifact: Artifact, inputs: [String: Tensor], directory: String) throws {
        let comparison = try DumpComparison.run(
            artifact: artifact, inputs: inputs, directory: URL(fileURLWithPath: directory), threads: threads)
        print(json ? try JSONOutput.encode(comparison) : comparison.table)
        guard comparison.matches else {
            let first = comparison.rows.first { $0.result != "MATCH" }
            throw KilnError(
                .dpuDumpMismatch,
                "\(comparison.mismatched) of \(comparison.rows.count) dumped tensors differ from the fake-quant simulation"
                    + (first.map { " (first: subgraph \($0.subgraph) '\($0.tensor)', \($0.result))" } ?? ""))
        }
    }

    /// The first sample of `inputs`: an input whose first axis is longer than the graph's
    /// static batch (e.g. the `N×…` of a test archive) keeps its first `batch` rows; the
    /// dump and the compare see that one sample.
    ///
    /// - Returns: The inputs and the sample count found (1 when nothing was cut).
    static func firstSample(of inputs: [String: Tensor], graph: Graph) -> (inputs: [String: Tensor], samples: Int) {
        var result = inputs
        var samples = 1
        for id in graph.inputs where graph.initializers[id] == nil {
            let value = graph[id]
            guard let tensor = inputs[value.name], let declared = value.type.shape, declared.count == tensor.rank,
                let batch = declared.first?.value, batch >= 1, let rows = tensor.shape.first, rows > batch
            else { continue }
            let inner = Array(tensor.shape.dropFirst())
            let length = batch * Tensor.elementCount(inner) * tensor.dtype.byteSize
            result[value.name] = tensor.withUnsafeBytes { bytes in
                Tensor(
                    shape: [batch] + inner, dtype: tensor.dtype,
                    bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
            }
            samples = max(samples, rows / batch)
        }
        return (result, samples)
    }
}
