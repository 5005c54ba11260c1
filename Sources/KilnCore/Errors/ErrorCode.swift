/// A stable, numbered error class.
///
/// Codes are grouped by range: 1xxx input and files, 2xxx ONNX import, 3xxx IR and
/// verification, 4xxx passes and partitioning, 5xxx quantization, 6xxx DPU, 7xxx
/// runtime and artifact, 8xxx command-line usage. A code is never renumbered or reused;
/// `docs/error-codes.md` lists them all and a test keeps it in step with ``all``.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The number shown as `KILN-<rawValue>`.
    public let rawValue: Int
    /// A short identifier, e.g. `unsupportedOp`.
    public let name: String
    /// One line saying what the code means.
    public let summary: String

    private init(_ rawValue: Int, _ name: String, _ summary: String) {
        self.rawValue = rawValue
        self.name = name
        self.summary = summary
    }

    public static func == (lhs: ErrorCode, rhs: ErrorCode) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    /// `KILN-2002`.
    public var description: String { "KILN-\(rawValue)" }

    // MARK: 1xxx input and files

    /// A file named on the command line or in a model does not exist.
    public static let fileNotFound = ErrorCode(1001, "fileNotFound", "a file does not exist")
    /// A file exists but cannot be read.
    public static let fileUnreadable = ErrorCode(1002, "fileUnreadable", "a file cannot be read")
    /// A `.npy` file is malformed or truncated.
    public static let npyMalformed = ErrorCode(1003, "npyMalformed", "a .npy file is malformed or truncated")
    /// A `.npz` archive is malformed or holds something other than `.npy` members.
    public static let npzMalformed = ErrorCode(1004, "npzMalformed", "a .npz archive is malformed")
    /// An output file could not be written.
    public static let writeFailed = ErrorCode(1005, "writeFailed", "an output file could not be written")
    /// An element type Kiln does not handle (e.g. strings, complex, bfloat16).
    public static let unsupportedDType = ErrorCode(1006, "unsupportedDType", "an element type Kiln does not support")

    // MARK: 2xxx ONNX import

    /// The file is not a parseable ONNX model (truncated, or another format).
    public static let notONNX = ErrorCode(2001, "notONNX", "the file is not a valid ONNX model")
    /// An operator Kiln does not implement.
    public static let unsupportedOp = ErrorCode(2002, "unsupportedOp", "the model uses an operator Kiln does not implement")
    /// An operator version whose semantics differ from what Kiln implements.
    public static let unsupportedOpVersion = ErrorCode(2003, "unsupportedOpVersion", "an operator version Kiln does not implement")
    /// The model is structurally invalid (dangling names, missing attributes, bad tensors).
    public static let invalidModel = ErrorCode(2004, "invalidModel", "the model is structurally invalid")
    /// A tensor's external data file is missing or too short.
    public static let externalDataMissing = ErrorCode(2005, "externalDataMissing", "external tensor data is missing or truncated")
    /// An attribute value Kiln does not implement (e.g. an unsupported mode).
    public static let unsupportedAttribute = ErrorCode(2006, "unsupportedAttribute", "an attribute value Kiln does not implement")
    /// The model's opset for the default domain is outside the supported range.
    public static let unsupportedOpset = ErrorCode(2007, "unsupportedOpset", "the model's opset is outside the supported range")

    // MARK: 3xxx IR

    /// The graph violates an IR invariant.
    public static let verificationFailed = ErrorCode(3001, "verificationFailed", "the graph violates an IR invariant")
    /// Shapes or dtypes of a node's inputs are incompatible.
    public static let shapeMismatch = ErrorCode(3002, "shapeMismatch", "a node's input shapes or dtypes are incompatible")

    // MARK: 4xxx targets, passes and partitioning

    /// A DPU target name or alias is not in the catalog.
    public static let unknownTarget = ErrorCode(4001, "unknownTarget", "a DPU target name is not in the catalog")
    /// An `arch.json` file is malformed (not JSON, not an object, neither `fingerprint` nor `target`).
    public static let badArch = ErrorCode(4002, "badArch", "an arch.json file is malformed")
    /// A DPU fingerprint matches no catalog entry.
    public static let unknownFingerprint = ErrorCode(4003, "unknownFingerprint", "a DPU fingerprint matches no catalog entry")
    /// `kiln inspect --svg` needs Graphviz's `dot`, which is not on `PATH`.
    public static let graphvizMissing = ErrorCode(4004, "graphvizMissing", "Graphviz's dot is not on PATH (needed to render SVG)")

    // MARK: 5xxx quantization

    /// Calibration data does not fit the model: unknown or missing input names, wrong shapes or
    /// element types, differing sample counts, files that are neither `.npy` nor `.npz`.
    public static let badCalibrationData = ErrorCode(5001, "badCalibrationData", "calibration data does not fit the model's inputs")
    /// The calibration set holds no sample.
    public static let emptyCalibrationSet = ErrorCode(5002, "emptyCalibrationSet", "the calibration set holds no sample")
    /// A calibration sample holds NaN or an infinity.
    public static let nonFiniteCalibrationData = ErrorCode(5003, "nonFiniteCalibrationData", "a calibration sample holds NaN or an infinity")
    /// A quantization tool the configuration asks for (CLE, bias correction, fast finetune) is not available.
    public static let quantizationToolUnavailable = ErrorCode(5004, "quantizationToolUnavailable", "a requested quantization tool is not available yet")
    /// Quantization options contradict each other (e.g. per-channel weights with power-of-two scales).
    public static let invalidQuantizationConfig = ErrorCode(5005, "invalidQuantizationConfig", "quantization options contradict each other")
    /// A quantization plan does not match the graph it is applied to (a tensor it needs has no entry).
    public static let planMismatch = ErrorCode(5006, "planMismatch", "a quantization plan does not match its graph")

    // MARK: 6xxx DPU compiler and emulator

    /// A value a DPU subgraph computes or reads has no fix position in the quantization plan.
    public static let dpuNoFixPosition = ErrorCode(6001, "dpuNoFixPosition", "a DPU subgraph value has no fix position in the plan")
    /// A DPU subgraph node has no integer pipeline the DPU compiler lowers (or a form it does not lower).
    public static let dpuUnsupportedNode = ErrorCode(6002, "dpuUnsupportedNode", "a DPU subgraph node has no integer pipeline the compiler lowers")
    /// A tile of a layer (one output row, one output-channel block) does not fit the target's on-chip banks.
    public static let dpuTileTooLarge = ErrorCode(6003, "dpuTileTooLarge", "a layer's smallest tile does not fit the DPU's on-chip banks")
    /// DPU program bytes do not decode (bad magic, version, lengths, or inconsistent contents).
    public static let dpuProgramMalformed = ErrorCode(6004, "dpuProgramMalformed", "DPU program bytes do not decode")
    /// A DPU program was compiled for another DPU configuration than the one it is run for.
    public static let dpuTargetMismatch = ErrorCode(6005, "dpuTargetMismatch", "the DPU program was compiled for another DPU target")
    /// A DPU dump (`kiln run --dump`) disagrees with the quantizer's fake-quant simulation.
    public static let dpuDumpMismatch = ErrorCode(6006, "dpuDumpMismatch", "a DPU dump disagrees with the fake-quant simulation")

    // MARK: 7xxx runtime

    /// A graph input was not provided.
    public static let missingInput = ErrorCode(7001, "missingInput", "a graph input was not provided")
    /// An input has the wrong dtype.
    public static let inputDTypeMismatch = ErrorCode(7002, "inputDTypeMismatch", "an input has the wrong element type")
    /// An input has the wrong rank or a dimension that contradicts the model.
    public static let inputShapeMismatch = ErrorCode(7003, "inputShapeMismatch", "an input has the wrong rank or shape")
    /// A kernel rejected its arguments at run time (e.g. an index out of range).
    public static let invalidArgument = ErrorCode(7004, "invalidArgument", "an operator received invalid values at run time")
    /// No kernel exists for this op and dtype.
    public static let kernelMissing = ErrorCode(7005, "kernelMissing", "no kernel exists for this operator and element type")
    /// An input name does not belong to the model.
    public static let unknownInput = ErrorCode(7006, "unknownInput", "an input name does not belong to the model")
    /// The file does not start with the artifact magic `KILNART\0`.
    public static let notArtifact = ErrorCode(7007, "notArtifact", "the file is not a Kiln artifact")
    /// The artifact's format major version is newer than this Kiln reads.
    public static let artifactTooNew = ErrorCode(7008, "artifactTooNew", "the artifact was written by a newer Kiln")
    /// The artifact is shorter than its header says.
    public static let artifactTruncated = ErrorCode(7009, "artifactTruncated", "the artifact is truncated")
    /// A checksum, bound, alignment or padding check failed: the artifact was altered or damaged.
    public static let artifactCorrupt = ErrorCode(7010, "artifactCorrupt", "the artifact is corrupt (checksum, bounds or alignment)")
    /// A section's content (header, module tree, constants table, module payload) does not decode.
    public static let artifactMalformed = ErrorCode(7011, "artifactMalformed", "a section of the artifact does not decode")
    /// The artifact was compiled for another DPU configuration than the one chosen.
    public static let fingerprintMismatch = ErrorCode(7012, "fingerprintMismatch", "the artifact was compiled for another DPU target")
    /// A module names a constant the metadata module does not hold.
    public static let constantMissing = ErrorCode(7013, "constantMissing", "a module names a constant the artifact does not hold")
    /// A module's kind has no registered back end.
    public static let unknownModuleKind = ErrorCode(7014, "unknownModuleKind", "a module's kind has no registered back end")
    /// The chosen executor cannot run this graph (the graph executor and dynamic shapes or control flow).
    public static let executorUnsupported = ErrorCode(7101, "executorUnsupported", "the chosen executor cannot run this graph")
    /// A graph calls an accelerator subgraph that nothing loaded can run.
    public static let subgraphRunnerMissing = ErrorCode(7102, "subgraphRunnerMissing", "no runner is available for an accelerator subgraph")
    /// A module was asked for a function it does not export.
    public static let functionNotFound = ErrorCode(7103, "functionNotFound", "a module does not export the requested function")

    // MARK: 8xxx command line

    /// A command-line argument is invalid.
    public static let badArgument = ErrorCode(8001, "badArgument", "a command-line argument is invalid")

    /// Every code, in numeric order.
    public static let all: [ErrorCode] = [
        .fileNotFound, .fileUnreadable, .npyMalformed, .npzMalformed, .writeFailed, .unsupportedDType,
        .notONNX, .unsupportedOp, .unsupportedOpVersion, .invalidModel, .externalDataMissing,
        .unsupportedAttribute, .unsupportedOpset,
        .verificationFailed, .shapeMismatch,
        .unknownTarget, .badArch, .unknownFingerprint, .graphvizMissing,
        .badCalibrationData, .emptyCalibrationSet, .nonFiniteCalibrationData, .quantizationToolUnavailable,
        .invalidQuantizationConfig, .planMismatch,
        .dpuNoFixPosition, .dpuUnsupportedNode, .dpuTileTooLarge, .dpuProgramMalformed, .dpuTargetMismatch,
        .dpuDumpMismatch,
        .missingInput, .inputDTypeMismatch, .inputShapeMismatch, .invalidArgument, .kernelMissing,
        .unknownInput, .notArtifact, .artifactTooNew, .artifactTruncated, .artifactCorrupt,
        .artifactMalformed, .fingerprintMismatch, .constantMissing, .unknownModuleKind,
        .executorUnsupported, .subgraphRunnerMissing, .functionNotFound,
        .badArgument,
    ]
}
