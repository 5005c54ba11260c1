import Foundation
import KilnCore
import KilnIR
import KilnONNX
import KilnQuant
import KilnTargets

/// The API users call to run a model (onnxruntime's `InferenceSession`): load a `.kiln`
/// artifact (or an `.onnx` model, compiled in memory) for a DPU target, then `run`.
///
/// An uncalibrated artifact quantizes on the fly: runs 1…N (``SessionOptions/quantSize``,
/// `KILN_QUANT_SIZE`) execute the float model, observe it (``KilnQuant/CalibrationSession``)
/// and answer the caller; after the Nth the session finishes quantization, compiles the DPU
/// subgraphs, rebuilds the executor of the chosen kind over the new module tree and
/// switches: later runs are accelerated (DPU subgraphs on the emulator). This is the same
/// under the graph executor and the VM, and ``export(to:)`` writes the artifact as it now
/// is — calibrated and compiled after the switch, whichever executor ran it (seed 000's
/// defect was a VM export that had not changed).
///
/// With a build directory (``SessionOptions/buildDirectory``, `KILN_BUILD_DIR`), the
/// session looks its ``BuildKey`` up first: a hit accelerates from the first input; a
/// corrupt entry is reported in ``events`` and rebuilt; after on-the-fly quantization the
/// entry is stored.
///
/// ```swift
/// let session = try InferenceSession(contentsOf: URL(fileURLWithPath: "model.kiln"), target: arch)
/// for feed in feeds { let outputs = try session.run(feed) }
/// print(session.phase, session.timings.summary)
/// try session.export(to: URL(fileURLWithPath: "calibrated.kiln"))
/// ```
///
/// A session is a reference type and not thread-safe: one caller at a time (for several
/// threads, load the exported artifact and give each thread an execution context).
public final class InferenceSession {
    /// The options.
    public let options: SessionOptions
    /// The DPU the session runs for.
    public let architecture: DPUArchitecture
    /// The artifact as it now is (calibrated and compiled once accelerated).
    public private(set) var artifact: Artifact
    /// Where the session stands.
    public private(set) var phase: SessionPhase
    /// Wall-clock times so far.
    public private(set) var timings = SessionTimings()
    /// What the session reported so far (phase switch, build-dir hit, corrupt entry).
    public private(set) var events: [SessionEvent] = []
    /// The quantized model, once the session quantized on the fly.
    public private(set) var quantizedModel: QuantizedModel?
    /// Called with each event as it happens (e.g. to log it).
    public var onEvent: ((SessionEvent) -> Void)?

    private var executor: (any ModelExecutor)?
    private var calibration: CalibrationSession?
    private var buildKey: BuildKey?

    /// A session over a loaded artifact.
    ///
    /// - Parameters:
    ///   - artifact: The artifact (``ArtifactReader`` or ``CompiledModel/artifact``).
    ///   - target: The DPU to run for; `nil` means the artifact's own fingerprint.
    ///   - options: The options.
    /// - Throws: `fingerprintMismatch` for an artifact compiled for another DPU (unless
    ///   ``SessionOptions/allowRecompile``); `badArgument` for bad options; what compiling,
    ///   the executors and the quantizer throw.
    public init(artifact: Artifact, target: DPUArchitecture? = nil, options: SessionOptions = SessionOptions()) throws {
        guard options.quantSize >= 1 else {
            throw KilnError(.badArgument, "the quantization size must be at least 1, got \(options.quantSize)")
        }
        guard options.threads >= 1 else {
            throw KilnError(.badArgument, "threads must be at least 1, got \(options.threads)")
        }
        self.options = options
        let architecture = try target ?? Catalog.architecture(fingerprint: artifact.header.fingerprint)
        self.architecture = architecture
        self.artifact = artifact
        phase = .floatOnly
        if artifact.needsRecompile || architecture.fingerprint != artifact.header.fingerprint {
            guard options.allowRecompile else {
                throw KilnError(
                    .fingerprintMismatch,
                    "the artifact was compiled for \(artifact.header.target) (fingerprint \(artifact.header.fingerprint)), "
                        + "not for \(architecture.name); compile it for this target, or allow recompiling")
            }
            self.artifact = try ModelCompiler.recompile(artifact, for: architecture, threads: options.threads)
            report(.info, "recompiled the artifact from \(artifact.header.target) for \(architecture.name)")
        }
        try start()
    }

    /// A session over a `.kiln` artifact or an `.onnx` model (compiled in memory, uncalibrated).
    ///
    /// - Parameters:
    ///   - url: The file; an artifact is recognized by its magic.
    ///   - target: The DPU; required for an ONNX model, else `nil` means the artifact's.
    ///   - options: The options.
    /// - Throws: `badArgument` for an ONNX model without a target; the reader's, the
    ///   importer's and ``init(artifact:target:options:)``'s errors.
    public convenience init(
        contentsOf url: URL, target: DPUArchitecture? = nil, options: SessionOptions = SessionOptions()
    )
        throws
    {
        if ArtifactReader.hasMagic(url) || url.pathExtension == "kiln" {
            let artifact = try ArtifactReader.read(
                contentsOf: url, expectedFingerprint: target?.fingerprint, allowRecompile: options.allowRecompile)
            try self.init(artifact: artifact, target: target, options: options)
            return
        }
        guard let target else {
            throw KilnError(
                .badArgument,
                "'\(url.lastPathComponent)' is a model, not an artifact: give the DPU target to compile it for")
        }
        let compiled = try ModelCompiler.compile(
            ONNXImporter.importModel(contentsOf: url).graph, modelSHA256: Self.sha256(of: url), architecture: target,
            threads: options.threads)
        try self.init(artifact: compiled.artifact, target: target, options: options)
    }

    /// The SHA-256 of a file's bytes, 64 hex digits.
    ///
    /// - Throws: `fileNotFound`, `fileUnreadable`.
    public static func sha256(of url: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw KilnError(.fileNotFound, "no file at '\(url.path)'")
        }
        do {
            return Checksum.sha256Hex(try Data(contentsOf: url, options: .alwaysMapped))
        } catch {
            throw KilnError(.fileUnreadable, "cannot read '\(url.path)': \(error.localizedDescription)")
        }
    }

    /// The executor's kind (`graph` or `vm`), once the session has one (not while calibrating).
    public var executorName: String? { executor?.kindName }

    /// The DPU subgraphs of the current artifact and where each runs.
    public var subgraphs: [CompiledSubgraph] {
        (try? ModelCompiler.subgraphs(of: artifact)) ?? []
    }

    /// The build-dir key of this session's calibration (`nil` when it has nothing to calibrate).
    public var key: BuildKey? { buildKey }

    /// Runs the model on `inputs` by name and returns its outputs by name.
    ///
    /// While calibrating, the float model answers and observes the inputs; the Nth run then
    /// quantizes, compiles and switches before returning.
    ///
    /// - Throws: what the executor (or, while calibrating, the float interpreter) throws for
    ///   the inputs; what quantizing and compiling throw on the switch.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        let start = DispatchTime.now()
        if case .calibrating(let observed, let total) = phase, let calibration {
            try Self.checkInputs(inputs, for: calibration.graph)
            let outputs = try calibration.run(inputs)
            timings.calibration += Self.seconds(since: start)
            timings.calibrationRuns += 1
            phase = .calibrating(observed: observed + 1, of: total)
            if observed + 1 >= total { try switchToAccelerated() }
            return outputs
        }
        guard let executor else {
            throw KilnError(
                .subgraphRunnerMissing, "the session has no executor (it failed to switch after calibration)")
        }
        let outputs = try executor.run(inputs)
        if phase == .accelerated {
            timings.accelerated += Self.seconds(since: start)
            timings.acceleratedRuns += 1
        }
        return outputs
    }

    /// Writes the artifact as it now is to `url`, atomically (see ``ArtifactWriter``).
    ///
    /// - Throws: `writeFailed`.
    public func export(to url: URL) throws {
        try ArtifactWriter.write(artifact.tree, header: artifact.header, to: url)
    }

    // MARK: Phases

    /// Chooses the initial phase: accelerated (calibrated, or a build-dir hit), calibrating
    /// (uncalibrated with DPU subgraphs) or float-only.
    private func start() throws {
        let graph = try entryGraph(of: artifact)
        let hasSubgraphs = graph.nodes.contains { $0.op == .dpuSubgraph }
        if case .calibrated = artifact.header.quantization {
            try adopt(artifact)
            return
        }
        guard hasSubgraphs else {
            executor = try artifact.makeExecutor(options.executor, threads: options.threads)
            phase = .floatOnly
            report(.info, "no DPU subgraph for \(architecture.name): the model runs in float on the CPU")
            return
        }
        var config = options.quantization ?? QuantizationConfig()
        guard config.scale == .pow2 else {
            throw KilnError(
                .invalidQuantizationConfig,
                "on-the-fly quantization compiles for the DPU, which needs power-of-two scales, not \(config.scale.rawValue)")
        }
        config.target = architecture
        config.calibrationSize = options.quantSize
        config.threads = options.threads
        let fingerprint = try ModelCompiler.fingerprint(of: architecture)
        let key = BuildKey(
            modelSHA256: artifact.header.modelSHA256, fingerprint: fingerprint, config: config,
            samples: options.quantSize)
        buildKey = key
        if let cache = buildCache {
            switch cache.lookup(key) {
            case .hit(let cached):
                try adopt(cached)
                report(
                    .info, "build-dir hit \(key.digest.prefix(12)): accelerated from the first input, no calibration")
                return
            case .corrupt(let reason):
                report(.warning, reason)
            case .miss:
                break
            }
        }
        calibration = try CalibrationSession(graph: ModelCompiler.floatGraph(of: artifact), config: config)
        phase = .calibrating(observed: 0, of: options.quantSize)
        report(
            .info,
            "uncalibrated: the first \(options.quantSize) runs calibrate in float, then the DPU subgraphs switch on")
    }

    /// Uses a calibrated artifact: an executor over its tree.
    private func adopt(_ calibrated: Artifact) throws {
        artifact = calibrated
        executor = try calibrated.makeExecutor(options.executor, threads: options.threads)
        phase = try entryGraph(of: calibrated).nodes.contains { $0.op == .dpuSubgraph } ? .accelerated : .floatOnly
    }

    /// After the Nth calibration run: quantize, compile, rebuild the executor, store the entry.
    private func switchToAccelerated() throws {
        guard let calibration else { return }
        let start = DispatchTime.now()
        let quantized = try calibration.finish()
        let compiled = try ModelCompiler.compile(
            quantized, modelSHA256: artifact.header.modelSHA256, architecture: architecture)
        try adopt(compiled.artifact)
        quantizedModel = quantized
        self.calibration = nil
        timings.quantizeAndCompile = Self.seconds(since: start)
        let onDPU = compiled.subgraphs.filter { $0.device == .dpu }.count
        report(
            .info,
            "calibrated on \(calibration.sampleCount) inputs; \(onDPU) of \(compiled.subgraphs.count) DPU subgraph(s) "
                + "compiled; switched to the \(executor?.kindName ?? "?") executor with the DPU")
        if let cache = buildCache, let buildKey {
            do {
                try cache.store(ArtifactWriter.encode(compiled.tree, header: compiled.header), for: buildKey)
            } catch {
                report(.warning, "could not store the build-dir entry: \(error)")
            }
        }
    }

    /// The build cache of the options, if any.
    private var buildCache: BuildCache? {
        options.buildDirectory.map { BuildCache(directory: $0) }
    }

    private func report(_ level: SessionEvent.Level, _ message: String) {
        let event = SessionEvent(level: level, message: message)
        events.append(event)
        onEvent?(event)
    }

    // MARK: Helpers

    private func entryGraph(of artifact: Artifact) throws -> Graph {
        try ModelCompiler.entryGraph(of: artifact)
    }

    /// Checks inputs as the executors do, so a bad input fails with the same runtime code
    /// while calibrating as once accelerated (and is never observed).
    ///
    /// - Throws: `unknownInput`, `missingInput`, `inputDTypeMismatch`, `inputShapeMismatch`.
    static func checkInputs(_ inputs: [String: Tensor], for graph: Graph) throws {
        let declared = graph.inputs.filter { graph.initializers[$0] == nil }
        let names = Set(graph.inputs.map { graph[$0].name })
        for name in inputs.keys.sorted() where !names.contains(name) {
            throw KilnError(
                .unknownInput, "the model has no input '\(name)'; its inputs are \(declared.map { graph[$0].name })")
        }
        for id in declared {
            guard let tensor = inputs[graph[id].name] else {
                throw KilnError(.missingInput, "input '\(graph[id].name)' (\(graph[id].type)) was not provided")
            }
            try VirtualMachine.check(tensor, against: graph[id])
        }
    }

    private static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}
