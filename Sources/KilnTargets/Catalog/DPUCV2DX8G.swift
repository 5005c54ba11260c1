/// DPUCV2DX8G, the DPU of Versal AI Edge and the Alveo V70 (VEK280, V70).
///
/// Declarative table; figures from UG1414 v3.5 Table 28 (intrinsic parameters of
/// `DPUCV2DX8G_ISA1_C20B1`: channel parallelism 32, bank depth 65528, one bank; op limits),
/// as digested in `shared/reference/ug1414-digest.md` §3.
///
/// Not public, so `nil`: the fingerprint (type 9, ISA 1; feature code not published),
/// pixel and output-channel parallelism, batch, peak ops per cycle, clock, cores, buffer
/// sizes in KiB, external memory bandwidth.
enum DPUCV2DX8G {
    /// C20B1, the configuration UG1414 names.
    static let entries: [DPUArchitecture] = [
        DPUArchitecture(
            name: "DPUCV2DX8G_ISA1_C20B1", family: .dpucv2dx8g, isaVersion: 1,
            fingerprint: nil,  // not public
            summary: "Versal AI Edge / Alveo V70 DPU (VEK280, V70)",
            pixelParallelism: nil, inputChannelParallelism: 32, outputChannelParallelism: nil,  // PP, OCP not public
            batch: nil,  // not public
            aluPixelParallelism: nil, peakOpsPerCycle: nil, clockMHz: nil, cores: nil,  // not public
            onChipMemory: OnChipMemory(bankDepth: 65_528, imageBanks: 1),
            externalMemory: ExternalMemory(kind: .ddr),
            limits: limits,
            boards: [
                BoardConfiguration(name: "VEK280", cores: nil, clockMHz: nil),
                BoardConfiguration(name: "V70", cores: nil, clockMHz: nil, note: "Alveo V70; the only WeGO target"),
            ],
            notes: ["UG1414 gives only channel_parallel, bank_depth and bank_num for this DPU; its other parallelism, clock and peak are not public in Kiln's sources."],
            sources: ["UG1414-ops"]),
    ]

    /// UG1414 v3.5 Table 28, DPUCV2DX8G column: channel parallelism 32, bank depth 65528.
    private static let limits: OperatorLimits = {
        let cp = 32
        let bankDepth = 65_528
        let channels = 256 * cp
        let all: Set<Activation> = [.relu, .relu6, .leakyReLU, .hardSigmoid, .hardSwish]
        let pool = WindowLimits(
            kernel: .range(IntRange(1, 256)), stride: IntRange(1, 256), padding: SharedLimits.aluWindowPadding,
            activations: [.relu, .relu6], constraints: [.kernelArea(max: bankDepth)])
        return OperatorLimits(
            conv: WindowLimits(
                kernel: .range(IntRange(1, 16)), stride: IntRange(1, 8), padding: SharedLimits.convPadding,
                activations: all,
                constraints: [
                    .kernelArea(max: 53),  // 256·kh·kw ≤ 13760
                    .kernelAreaTimesChannelGroups(channelParallel: cp, max: bankDepth),
                    .inputChannels(max: channels), .outputChannels(max: channels),
                    .dilationTimesInputChannels(max: channels), .unitStrideWhenDilated,
                ]),
            depthwiseConv: WindowLimits(
                kernel: .range(IntRange(1, 256)), stride: IntRange(1, 256), padding: SharedLimits.aluPadding,
                activations: all,
                constraints: [.kernelArea(max: 431), .strideWindow(strideFactor: 6, offset: 4, max: 512)]),
            transposedConv: SharedLimits.transposedConv(channelParallel: cp, activations: all),
            depthwiseTransposedConv: WindowLimits(
                kernelOverStride: .range(IntRange(1, 256)), padding: SharedLimits.aluWindowPadding,
                activations: all),
            maxPool: pool,
            averagePool: pool,
            eltwise: EltwiseLimits(
                kinds: [.add, .multiply], maxInputs: 2, activations: [.relu],
                constraints: [.inputChannels(max: channels)]),
            resize: ResizeLimits(
                modes: [.nearest, .bilinear], nearestNeedsIntegerScale: true,
                bilinearCases: SharedLimits.bilinearCases,
                nearestConstraints: [.nearestScale(banks: 1, channelParallel: cp, max: bankDepth)]),
            pad: SharedLimits.pad(channelParallel: cp),
            reorg: SharedLimits.reorg(channelParallel: cp),
            argmax: [.inputChannels(max: 128)],
            reduceMax: [.inputChannels(max: 4095)],
            correlation: nil,  // DPUCZDX8G and DPUCVDX8G only
            standaloneActivations: nil,  // not published
            concat: true,
            stridedSlice: true)
    }()
}
