/// DPUCAHX8H, the high-throughput DPU for Alveo cards with HBM (U50, U50LV, U55C, U280).
///
/// Declarative table; figures from `shared/reference/dpu-architecture.md` §1.5, which
/// cites PG367 (boards: engines per core, clocks, peak GOPS), the target factory
/// (`DPUCAHX8H_ISA2*.prototxt`: ICP 16, OCP 16, PP 8, image bank depth 8192, conv stride
/// 1..4, pooling kernel 1..8, depthwise conv only in the `_DWC` variant with kernels 1, 2,
/// 3, 5, 7) and UG1414 v3.5 Table 28 (op limits, listed for ISA2_DWC).
///
/// Not public, so `nil`: the fingerprints (type 2, ISA 2; feature codes not published),
/// the batch, the ALU parallelism, buffer sizes in KiB, the HBM bandwidth; for `_DWC`
/// also its peak, clock and board configurations.
enum DPUCAHX8H {
    /// ISA2 and its depthwise-capable variant ISA2_DWC.
    static let entries: [DPUArchitecture] = [
        DPUArchitecture(
            name: "DPUCAHX8H_ISA2", family: .dpucahx8h, isaVersion: 2,
            fingerprint: nil,  // not public
            summary: "Alveo HBM DPU, high throughput (U50, U50LV, U280)",
            pixelParallelism: 8, inputChannelParallelism: 16, outputChannelParallelism: 16,
            batch: nil, aluPixelParallelism: nil,  // not public
            // Per engine, [D] from PG367's board peaks: U50 6 engines × 4096 × 300 MHz = 7373 GOPS.
            peakOpsPerCycle: 4096, clockMHz: 300,
            cores: 2,  // U50
            onChipMemory: OnChipMemory(bankDepth: 8192),  // image banks (target factory)
            externalMemory: ExternalMemory(kind: .hbm),
            limits: limits(depthwise: false),
            boards: [
                BoardConfiguration(name: "U50", cores: 2, enginesPerCore: [3, 3], clockMHz: 300, publishedPeakGOPS: 7373),
                BoardConfiguration(name: "U50LV", cores: 2, enginesPerCore: [5, 5], clockMHz: 275, publishedPeakGOPS: 11_264),
                BoardConfiguration(name: "U280", cores: 3, enginesPerCore: [4, 5, 5], clockMHz: 300, publishedPeakGOPS: 17_203),
            ],
            notes: [
                "A core holds several engines (processing elements); peak ops per cycle is per engine.",
                "No depthwise convolution; see DPUCAHX8H_ISA2_DWC.",
            ],
            sources: ["PG367-perf", "PG367-util", "TF", "UG1414-ops"]),
        DPUArchitecture(
            name: "DPUCAHX8H_ISA2_DWC", family: .dpucahx8h, isaVersion: 2,
            fingerprint: nil,  // not public
            summary: "Alveo HBM DPU with depthwise convolution (U50, U55C, U50LV, U280)",
            pixelParallelism: 8, inputChannelParallelism: 16, outputChannelParallelism: 16,
            batch: nil, aluPixelParallelism: nil,  // not public
            peakOpsPerCycle: nil, clockMHz: nil, cores: nil,  // not public for the DWC variant
            // UG1414 Table 28's bank_depth for ISA2_DWC; the target factory gives the
            // image banks a depth of 8192.
            onChipMemory: OnChipMemory(bankDepth: 2048),
            externalMemory: ExternalMemory(kind: .hbm),
            limits: limits(depthwise: true),
            boards: ["U50", "U55C", "U50LV", "U280"].map { BoardConfiguration(name: $0, cores: nil, clockMHz: nil) },
            notes: ["UG1414 lists bank_depth 2048 for this variant; the target factory gives the image banks 8192."],
            sources: ["TF", "UG1414-ops", "Z25"]),
    ]

    /// UG1414 v3.5 Table 28, DPUCAHX8H column (channel parallelism 16).
    private static func limits(depthwise: Bool) -> OperatorLimits {
        let cp = 16
        let channels = 256 * cp
        let convActivations: Set<Activation> = [.relu, .relu6, .leakyReLU]
        let depthwiseKernels = AllowedSizes.values([1, 2, 3, 5, 7])
        // Table 28 prints pooling and depthwise-transposed padding as [1, k−1] here.
        let pool = WindowLimits(
            kernel: .range(IntRange(1, 8)), stride: IntRange(1, 8), padding: PaddingLimit(minimum: 1))
        var averagePool = pool
        averagePool.constraints = [.squareKernel]
        return OperatorLimits(
            conv: WindowLimits(
                kernel: .range(IntRange(1, 16)), stride: IntRange(1, 4), padding: SharedLimits.convPadding,
                activations: convActivations,
                constraints: [.outputChannels(max: channels), .dilationTimesInputChannels(max: channels), .unitStrideWhenDilated]),
            depthwiseConv: depthwise
                ? WindowLimits(
                    kernel: depthwiseKernels, stride: IntRange(1, 4), padding: SharedLimits.convPadding,
                    activations: [.relu, .relu6])
                : nil,
            transposedConv: SharedLimits.transposedConv(channelParallel: cp, activations: convActivations),
            depthwiseTransposedConv: depthwise
                ? WindowLimits(
                    kernelOverStride: depthwiseKernels, padding: PaddingLimit(minimum: 1),
                    activations: [.relu, .relu6])
                : nil,
            maxPool: pool,
            averagePool: averagePool,
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
    }
}
