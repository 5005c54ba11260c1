import KilnIR
import KilnTargets

/// What `kiln inspect` runs: prepare the imported graph, annotate it for a target,
/// partition it, and report.
///
/// ```swift
/// let model = try ONNXImporter.importModel(contentsOf: url)
/// let target = try Catalog.architecture(named: "DPUCZDX8G_ISA1_B4096")
/// let inspection = try InspectPipeline.inspect(model.graph, target: target)
/// print(inspection.report.text)
/// ```
public enum InspectPipeline {
    /// The passes that prepare a graph for annotation, in order: shape inference, then
    /// ``Pass/canonicalization`` (constants and batch norms folded, biases inside the
    /// convolutions, `Gemm` for fully connected layers, ReLU6 / HardSwish / SiLU as single
    /// nodes), then shape inference again for the values it made.
    ///
    /// This is the one place the pipeline is assembled.
    public static var preparation: [Pass] {
        [inferShapes] + Pass.canonicalization + [inferShapes]
    }

    /// Shape and type inference as a pass.
    static let inferShapes = Pass("InferShapes") { graph, _ in try ShapeInference.infer(graph) }

    /// The prepared graph, its partition and the report.
    public struct Inspection: Sendable {
        /// The graph after ``preparation``, as annotated.
        public var graph: Graph
        /// The partition of ``graph``.
        public var partition: PartitionResult
        /// The report.
        public var report: InspectorReport
    }

    /// Prepares, annotates and partitions `graph` for `target`.
    ///
    /// - Throws: what the preparation passes throw (`shapeMismatch` for an inconsistent
    ///   model, `verificationFailed`).
    public static func inspect(
        _ graph: Graph, target: DPUArchitecture, options: PartitionOptions = PartitionOptions()
    ) throws -> Inspection {
        let (prepared, _) = try PassManager(preparation).run(graph)
        let result = try partition(prepared, annotation: annotate(prepared, for: target), options: options)
        return Inspection(graph: prepared, partition: result, report: InspectorReport(graph: prepared, result: result, target: target.name))
    }
}
