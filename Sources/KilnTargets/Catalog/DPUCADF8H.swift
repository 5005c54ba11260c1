/// DPUCADF8H, the DPU for Alveo U200 / U250 with DDR; also the target of the legacy name
/// `DPUCADX8G`.
///
/// Declarative table; figures from `shared/reference/dpu-architecture.md` §1.5, which
/// cites the target factory (`DPUCADF8H_ISA0.prototxt`: ICP 16, OCP 16, PP 8, batch 4,
/// bank depth 8192), the model zoo (boards) and UG1414 v3.5 Table 28 (op limits), plus
/// UG1414's quantizer option `arch_type=DPUCADF8H` (activations clamp to −127..127).
///
/// Not public, so `nil`: the fingerprint (type 7, ISA 0; feature code not published), the
/// peak ops per cycle (no source states it), the ALU parallelism, buffer sizes in KiB,
/// the DDR bandwidth, and the pooling padding limit.
///
/// `DPUCADX8G` (xDNN v3) is the cloud target of the TVM + Vitis AI flow (seed 001). Vitis
/// AI 1.3 replaced it on the same cards by DPUCADF8H, and its compiler is not in the target
/// factory, so the legacy name selects this entry; the note says so.
enum DPUCADF8H {
    /// ISA0.
    static let entries: [DPUArchitecture] = [
        DPUArchitecture(
            name: "DPUCADF8H_ISA0", family: .dpucadf8h, isaVersion: 0,
            aliases: ["DPUCADX8G"],
            fingerprint: nil,  // not public
            summary: "Alveo U200/U250 DPU (DDR), successor of DPUCADX8G",
            pixelParallelism: 8, inputChannelParallelism: 16, outputChannelParallelism: 16,
            batch: 4, aluPixelParallelism: nil,  // not public
            peakOpsPerCycle: nil,  // not public
            clockMHz: 300,
            cores: 2,  // U200
            onChipMemory: OnChipMemory(bankDepth: 8192),
            externalMemory: ExternalMemory(kind: .ddr),
            activationRange: IntRange(-127, 127),
            limits: limits,
            boards: [
                BoardConfiguration(name: "U200", cores: 2, clockMHz: 300, note: "kernels"),
                BoardConfiguration(name: "U250", cores: 4, clockMHz: 300, note: "kernels; 3 on the gen3x16 shell"),
            ],
            notes: [
                "DPUCADX8G (xDNN v3: a 96×16 DSP systolic array at 700 MHz, 9 MB URAM, kernels at 350 MHz, 2 on U200 and 4 on U250) was replaced by DPUCADF8H on the same cards in Vitis AI 1.3; the legacy name DPUCADX8G selects this entry.",
                "The target factory gives depthwise conv a channel parallelism of 64, but UG1414 3.5 lists depthwise conv as not supported on DPUCADF8H; Kiln follows UG1414.",
                "Activations clamp to −127..127 (UG1414, quantizer arch_type DPUCADF8H).",
            ],
            sources: ["TF", "UG1414-ops", "UG1414-13", "Z25"]),
    ]

    /// UG1414 v3.5 Table 28, DPUCADF8H column (channel parallelism 16, bank depth 8192).
    private static let limits: OperatorLimits = {
        let cp = 16
        let channels = 256 * cp
        let convActivations: Set<Activation> = [.relu, .leakyReLU]
        let pool = WindowLimits(
            kernel: .range(IntRange(1, 16)), stride: IntRange(1, 8),
            padding: nil,  // not published
            activations: [.relu])
        return OperatorLimits(
            conv: WindowLimits(
                kernel: .range(IntRange(1, 16)), stride: IntRange(1, 8), padding: SharedLimits.convPadding,
                activations: convActivations,
                constraints: [.outputChannels(max: channels), .dilationTimesInputChannels(max: channels), .unitStrideWhenDilated]),
            transposedConv: SharedLimits.transposedConv(channelParallel: cp, activations: convActivations),
            maxPool: pool,
            averagePool: pool,
            eltwise: EltwiseLimits(kinds: [.add], activations: [.relu], constraints: [.inputChannels(max: channels)]),
            // The nearest-resize rule needs bank_num, which is not public for this DPU.
            resize: ResizeLimits(
                modes: [.nearest, .bilinear], nearestNeedsIntegerScale: true,
                bilinearCases: SharedLimits.bilinearCases, nearestConstraints: []),
            pad: SharedLimits.pad(channelParallel: cp),
            reorg: SharedLimits.reorg(channelParallel: cp),
            standaloneActivations: nil,  // not published
            concat: true,
            stridedSlice: true)
    }()
}
