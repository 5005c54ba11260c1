/// DPUCVDX8G, the DPU on the AI Engines of Versal AI Core (VCK190).
///
/// Declarative table; figures from `shared/reference/dpu-architecture.md` §1.5, which
/// cites PG389 (peak: 256 ops per clock per AI Engine at 1.25 GHz), the target factory
/// (`DPUCVDX8G_ISA3_C32B*.prototxt`: ICP 16, OCP 32, PP 8 per batch, batch 6, bank depth
/// 8192, ALU PP 8) and UG1414 v3.5 Table 28 (op limits, stated for C32B3 and applied to
/// both configurations).
///
/// Not public, so `nil`: the fingerprints (type 6, ISA 3; the feature codes are not
/// published), the on-chip buffer sizes in KiB, the DDR bandwidth; for C32B3 also the
/// pixel and output-channel parallelism and the ALU pixel parallelism.
enum DPUCVDX8G {
    /// C32B6 (Vitis AI 2.5 / 3.0, 192 AI Engines) and C32B3 (Vitis AI 2.0, 96 AI Engines).
    static let entries: [DPUArchitecture] = [
        DPUArchitecture(
            name: "DPUCVDX8G_ISA3_C32B6", family: .dpucvdx8g, isaVersion: 3,
            fingerprint: nil,  // not public
            summary: "Versal AI Core DPU on 192 AI Engines (VCK190, Vitis AI 2.5/3.0)",
            pixelParallelism: 8, inputChannelParallelism: 16, outputChannelParallelism: 32,
            batch: 6, aluPixelParallelism: 8,
            // 256 ops/clock/AI Engine × 32 × 6 = 8 × 16 × 32 × 2 × 6.
            peakOpsPerCycle: 49_152, clockMHz: 1250, cores: 1,
            onChipMemory: OnChipMemory(bankDepth: 8192, imageBanks: 8),
            externalMemory: ExternalMemory(kind: .ddr),
            limits: limits,
            boards: [
                BoardConfiguration(
                    name: "VCK190", cores: 1, clockMHz: 1250, publishedPeakGOPS: 61_440,
                    note: "C32B6CU1L2S2; the clock is the AI Engine clock (PG389 assumes a 333 MHz PL clock)"),
            ],
            notes: [
                "The clock is the AI Engine clock; PG389 assumes the programmable logic at 333 MHz.",
                "Op limits are UG1414's for DPUCVDX8G_ISA3_C32B3.",
                "LeakyReLU in depthwise conv is not enabled by default (UG1414; see PG389).",
            ],
            sources: ["PG389-peak", "TF", "UG1414-ops", "Z25", "Z30"]),
        DPUArchitecture(
            name: "DPUCVDX8G_ISA3_C32B3", family: .dpucvdx8g, isaVersion: 3,
            fingerprint: nil,  // not public
            summary: "Versal AI Core DPU on 96 AI Engines (VCK190, Vitis AI 2.0)",
            pixelParallelism: nil, inputChannelParallelism: 16, outputChannelParallelism: nil,  // PP, OCP not public
            batch: 3,  // [D] from the name and 96 = 32 × 3 AI Engines
            aluPixelParallelism: nil,  // not public
            // Published 30.72 TOPS at 1.25 GHz = 24 576 ops per clock.
            peakOpsPerCycle: 24_576, clockMHz: 1250, cores: 1,
            onChipMemory: OnChipMemory(bankDepth: 8192, imageBanks: 8),
            externalMemory: ExternalMemory(kind: .ddr),
            limits: limits,
            boards: [
                BoardConfiguration(
                    name: "VCK190", cores: 1, clockMHz: 1250, publishedPeakGOPS: 30_720,
                    note: "Vitis AI 2.0; the clock is the AI Engine clock"),
            ],
            notes: [
                "The clock is the AI Engine clock; PG389 assumes the programmable logic at 333 MHz.",
                "LeakyReLU in depthwise conv is not enabled by default (UG1414; see PG389).",
            ],
            sources: ["PG389-peak", "UG1414-ops", "Z20"]),
    ]

    /// UG1414 v3.5 Table 28, DPUCVDX8G column: channel parallelism 16, bank depth 8192,
    /// 8 banks.
    private static let limits: OperatorLimits = {
        let cp = 16
        let bankDepth = 8192
        let channels = 256 * cp
        let all: Set<Activation> = [.relu, .relu6, .leakyReLU, .hardSigmoid, .hardSwish]
        let pool = WindowLimits(
            kernel: .range(IntRange(1, 256)), stride: IntRange(1, 256), padding: SharedLimits.aluWindowPadding,
            activations: [.relu, .relu6],
            constraints: [.kernelRowsPerBankTimesWidth(banks: 8, max: bankDepth)])
        return OperatorLimits(
            conv: WindowLimits(
                kernel: .range(IntRange(1, 16)), stride: IntRange(1, 8), padding: SharedLimits.convPadding,
                activations: all,
                constraints: [
                    .kernelAreaTimesChannelBlocks(block: 2048, max: 64),
                    .kernelAreaTimesChannelGroups(channelParallel: cp, max: bankDepth),
                    .inputChannels(max: channels), .outputChannels(max: channels),
                    .dilationTimesInputChannels(max: channels), .unitStrideWhenDilated,
                ]),
            // Table 28 states no size rule for DPUCVDX8G depthwise conv.
            depthwiseConv: WindowLimits(
                kernel: .range(IntRange(1, 256)), stride: IntRange(1, 256), padding: SharedLimits.aluPadding,
                activations: [.relu, .relu6, .hardSigmoid, .hardSwish]),
            transposedConv: SharedLimits.transposedConv(channelParallel: cp, activations: all),
            // Table 28 lists LeakyReLU here although depthwise conv has it off by default.
            depthwiseTransposedConv: WindowLimits(
                kernelOverStride: .range(IntRange(1, 256)), padding: SharedLimits.aluWindowPadding,
                activations: all),
            maxPool: pool,
            averagePool: pool,
            // "size limits with kd" of conv3d are not spelled out beyond the rule below.
            conv3d: WindowLimits(
                kernel: .range(IntRange(1, 16)), kernelDepth: .range(IntRange(1, 16)),
                stride: IntRange(1, 8), strideDepth: IntRange(1, 8), padding: PaddingLimit(),
                constraints: [.volumeChannelBlocks(align: 16, block: 2048, max: 64)]),
            depthwiseConv3d: WindowLimits(
                kernel: .range(IntRange(1, 256)), kernelDepth: .range(IntRange(1, 16)),
                stride: IntRange(1, 256), strideDepth: IntRange(1, 1)),
            transposedConv3d: WindowLimits(kernelOverStride: .range(IntRange(1, 16))),
            depthwiseTransposedConv3d: WindowLimits(kernelOverStride: .range(IntRange(1, 16))),
            eltwise: EltwiseLimits(
                kinds: [.add, .multiply], activations: [.relu], constraints: [.inputChannels(max: channels)]),
            resize: ResizeLimits(
                modes: [.nearest, .bilinear, .trilinear], nearestNeedsIntegerScale: true,
                bilinearCases: SharedLimits.bilinearCases,
                nearestConstraints: [.nearestScale(banks: 8, channelParallel: cp, max: bankDepth)]),
            pad: SharedLimits.pad(channelParallel: cp),
            reorg: SharedLimits.reorg(channelParallel: cp),
            argmax: [.inputChannels(max: 128)],
            reduceMax: [.inputChannels(max: 4095)],
            correlation: [.inputChannels(max: channels)],
            standaloneActivations: nil,  // not published
            concat: true,
            stridedSlice: true)
    }()
}
