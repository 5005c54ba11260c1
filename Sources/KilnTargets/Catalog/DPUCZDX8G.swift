/// DPUCZDX8G, the DPU for Zynq UltraScale+ MPSoC (ZCU102, ZCU104, Kria KV260, Ultra96).
///
/// Declarative table; figures from `shared/reference/dpu-architecture.md` §1, which cites:
/// PG338 (configurations, peak = PP × ICP × OCP × 2, clocks, ports, I/O bandwidth), the
/// Vitis AI target factory (`DPUCZDX8G_ISA1_B*.prototxt`: feature codes, bank sizes, op
/// limits; `create_target_DPUCZDX8G_ISA1.cpp`: the feature-code layout), UG1414 v3.5
/// Table 28 (op limits, stated for ISA1_B4096 and applied here to every ISA1 size), UG1354
/// and the Kria app docs (boards).
///
/// Not public, so `nil`: the DDR bandwidth available to a core (PG338 gives only what a
/// core needs for given models, kept as `measured`).
///
/// The eight configurations carry their Vitis AI 3.x fingerprints (save-engine argmax
/// on). A board running a Vitis AI 2.5 image reports the fingerprint with that bit clear,
/// and the runtime refuses a model compiled for another fingerprint, so the two 2.5
/// fingerprints that are published (KV260 B3136, ZCU102 B4096) are entries of their own,
/// named the way the compiler names them.
enum DPUCZDX8G {
    /// One configuration row of PG338 / the target factory.
    private struct Row {
        let arch: String
        let pixelParallelism: Int
        let channelParallelism: Int
        let peakOpsPerCycle: Int
        let aluPixelParallelism: Int
        /// Vitis AI 3.x feature code.
        let featureCode: UInt64
        let imageKiB: Int
        let convWeightKiB: Int
        let depthwiseWeightBiasKiB: Int
    }

    private static let rows: [Row] = [
        Row(arch: "B512", pixelParallelism: 4, channelParallelism: 8, peakOpsPerCycle: 512, aluPixelParallelism: 2,
            featureCode: 0x0000_5601_0200, imageKiB: 128, convWeightKiB: 128, depthwiseWeightBiasKiB: 32),
        Row(arch: "B800", pixelParallelism: 4, channelParallelism: 10, peakOpsPerCycle: 800, aluPixelParallelism: 2,
            featureCode: 0x0000_5601_0201, imageKiB: 160, convWeightKiB: 200, depthwiseWeightBiasKiB: 40),
        Row(arch: "B1024", pixelParallelism: 8, channelParallelism: 8, peakOpsPerCycle: 1024, aluPixelParallelism: 4,
            featureCode: 0x0000_5601_0402, imageKiB: 256, convWeightKiB: 128, depthwiseWeightBiasKiB: 32),
        Row(arch: "B1152", pixelParallelism: 4, channelParallelism: 12, peakOpsPerCycle: 1152, aluPixelParallelism: 2,
            featureCode: 0x0000_5601_0203, imageKiB: 192, convWeightKiB: 288, depthwiseWeightBiasKiB: 48),
        Row(arch: "B1600", pixelParallelism: 8, channelParallelism: 10, peakOpsPerCycle: 1600, aluPixelParallelism: 4,
            featureCode: 0x0000_5601_0404, imageKiB: 320, convWeightKiB: 200, depthwiseWeightBiasKiB: 40),
        Row(arch: "B2304", pixelParallelism: 8, channelParallelism: 12, peakOpsPerCycle: 2304, aluPixelParallelism: 4,
            featureCode: 0x0000_5601_0405, imageKiB: 384, convWeightKiB: 288, depthwiseWeightBiasKiB: 48),
        Row(arch: "B3136", pixelParallelism: 8, channelParallelism: 14, peakOpsPerCycle: 3136, aluPixelParallelism: 4,
            featureCode: 0x0000_5601_0406, imageKiB: 448, convWeightKiB: 392, depthwiseWeightBiasKiB: 56),
        Row(arch: "B4096", pixelParallelism: 8, channelParallelism: 16, peakOpsPerCycle: 4096, aluPixelParallelism: 4,
            featureCode: 0x0000_5601_0407, imageKiB: 512, convWeightKiB: 512, depthwiseWeightBiasKiB: 64),
    ]

    /// Vitis AI 2.5 feature codes published for boards: 0x0101000016010406 is what
    /// `xdputil query` reports on a KV260 with the smartcam / NLP overlays (and the blog's
    /// arch.json); 0x101000016010407 is the ZCU102 WAA example's arch.json.
    private static let vitisAI25FeatureCodes: [String: UInt64] = [
        "B3136": 0x0000_1601_0406,
        "B4096": 0x0000_1601_0407,
    ]

    /// Every DPUCZDX8G entry: the eight configurations, then the Vitis AI 2.5 variants.
    static let entries: [DPUArchitecture] =
        rows.map { entry($0, featureCode: $0.featureCode, variant: false) }
        + rows.compactMap { row in
            vitisAI25FeatureCodes[row.arch].map { entry(row, featureCode: $0, variant: true) }
        }

    private static func entry(_ row: Row, featureCode: UInt64, variant: Bool) -> DPUArchitecture {
        let fingerprint = Fingerprint(type: DPUType.dpuczdx8g.rawValue, isaVersion: 1, featureCode: featureCode)
        let features = DPUCZDX8GFeatureCode(rawValue: featureCode)
        let baseName = "DPUCZDX8G_ISA1_\(row.arch)"
        // A bank is ICP bytes wide and 2048 deep; the image banks per group follow from
        // the published sizes: imageKiB·1024 / (2 groups · ICP · 2048) = PP [D]. UG1414
        // Table 28 gives bank_num 8 for B4096, which agrees.
        let bankDepth = 2048
        let groups = features.imageBankGroups
        let imageBanks = row.imageKiB * 1024 / (groups * row.channelParallelism * bankDepth)
        var notes = [
            "PG338's GOPS assume 300 MHz; dpu_2x_clk (2 × the clock) drives the DSPs.",
            "Up to 4 cores per IP (PG338 v3.4; the TRD README says 3).",
            "Depthwise conv and pooling run on the ALU engine at pixel parallelism \(row.aluPixelParallelism).",
        ]
        if variant {
            notes.append("Vitis AI 2.5 fingerprint (save-engine argmax off); Vitis AI 3.x names this configuration \(baseName) with fingerprint \(Fingerprint(type: 1, isaVersion: 1, featureCode: row.featureCode)).")
        } else if vitisAI25FeatureCodes[row.arch] != nil {
            notes.append("Vitis AI 3.x fingerprint; boards on a Vitis AI 2.5 image report \(baseName)_\(Fingerprint(type: 1, isaVersion: 1, featureCode: vitisAI25FeatureCodes[row.arch] ?? 0).paddedHex), a separate entry.")
        } else {
            notes.append("Vitis AI 3.x fingerprint; a Vitis AI 2.5 board reports it with bit 30 (save-engine argmax) clear.")
        }
        if row.arch == "B4096" && !variant {
            notes.append("Default TRD DPU: RAM_USAGE_LOW, channel augmentation, depthwise conv, average pooling, ReLU/LeakyReLU/ReLU6, DSP48_USAGE_HIGH, softmax IP (elementwise multiply disabled in Vitis AI 1.4).")
        }
        return DPUArchitecture(
            name: variant ? "\(baseName)_\(fingerprint.paddedHex)" : baseName,
            family: .dpuczdx8g, isaVersion: 1,
            aliases: aliases(row.arch, variant: variant),
            fingerprint: fingerprint,
            summary: "Zynq UltraScale+ MPSoC DPU, \(row.arch)" + (variant ? " (Vitis AI 2.5 fingerprint)" : ""),
            pixelParallelism: row.pixelParallelism,
            inputChannelParallelism: row.channelParallelism,
            outputChannelParallelism: row.channelParallelism,
            batch: 1,
            aluPixelParallelism: row.aluPixelParallelism,
            peakOpsPerCycle: row.peakOpsPerCycle,
            clockMHz: 300,
            cores: 1,
            onChipMemory: OnChipMemory(
                bankDepth: bankDepth, imageBanks: imageBanks, imageBankGroups: groups, imageKiB: row.imageKiB,
                convWeightKiB: row.convWeightKiB, depthwiseWeightBiasKiB: row.depthwiseWeightBiasKiB),
            externalMemory: ExternalMemory(
                kind: .ddr, bandwidthMBps: nil,  // not public
                dataPorts: 2, dataPortBits: 128, instructionPortBits: 32,
                measured: measured(row.arch, variant: variant)),
            limits: limits(channelParallel: row.channelParallelism, imageBanks: imageBanks, features: features),
            boards: boards(row.arch, variant: variant),
            notes: notes,
            sources: ["PG338", "TF", "TF-code", "UG1414-ops"] + (variant ? ["TF-2.5"] : []))
    }

    /// Legacy names of the TVM + Vitis AI flow (seed 001) and the Kria name (seed 002).
    private static func aliases(_ arch: String, variant: Bool) -> [String] {
        switch (arch, variant) {
        case ("B4096", false): ["DPUCZDX8G-zcu102", "DPUCZDX8G-zcu104"]
        case ("B3136", true): ["DPUCZDX8G-kv260"]
        default: []
        }
    }

    private static func boards(_ arch: String, variant: Bool) -> [BoardConfiguration] {
        switch (arch, variant) {
        case ("B4096", false):
            [
                BoardConfiguration(
                    name: "ZCU102", alias: "DPUCZDX8G-zcu102", cores: 3, clockMHz: 281, publishedPeakGOPS: 3450,
                    note: "board 0432055-05 (UG1354, Vitis AI 2.5); revision -04 runs at 287 MHz"),
                BoardConfiguration(
                    name: "ZCU104", alias: "DPUCZDX8G-zcu104", cores: 2, clockMHz: 300, publishedPeakGOPS: 2460,
                    note: "UG1354, Vitis AI 2.5"),
                BoardConfiguration(
                    name: "KV260", cores: 1, clockMHz: 300,
                    note: "the model zoo's KV260 figures (\"B4096F\")"),
            ]
        case ("B4096", true):
            [
                BoardConfiguration(
                    name: "ZCU102", cores: nil, clockMHz: nil,
                    note: "arch.json of the Vitis AI WAA resnet50 pre-built flow; cores and clock not stated there"),
            ]
        case ("B3136", true):
            [
                // cores: one, from the published peak (3136 × 300 MHz = 0.94 TOPS ≈ 0.92).
                BoardConfiguration(
                    name: "KV260", alias: "DPUCZDX8G-kv260", cores: 1, clockMHz: 300, publishedPeakGOPS: 920,
                    note: "Smart Camera and NLP SmartVision apps (Kria 2022.1, Vitis AI 2.5); DSPs at 600 MHz; AIBox-ReID runs at 275 MHz"),
            ]
        case ("B1600", false):
            [BoardConfiguration(name: "Ultra96", cores: 1, clockMHz: 287, note: "Vitis AI model zoo 2.0")]
        default:
            []
        }
    }

    /// PG338 "I/O Bandwidth Requirements" (one core at full speed) and the Kria apps' DDR use.
    private static func measured(_ arch: String, variant: Bool) -> [MeasuredTraffic] {
        switch (arch, variant) {
        case ("B1152", false):
            [
                MeasuredTraffic(workload: "Inception-v1", direction: .total, peakMBps: 1704, averageMBps: 890),
                MeasuredTraffic(workload: "ResNet50", direction: .total, peakMBps: 2052, averageMBps: 1017),
                MeasuredTraffic(workload: "SSD", direction: .total, peakMBps: 1516, averageMBps: 684),
                MeasuredTraffic(workload: "YOLOv3-VOC", direction: .total, peakMBps: 2076, averageMBps: 986),
            ]
        case ("B4096", false):
            [
                MeasuredTraffic(workload: "Inception-v1", direction: .total, peakMBps: 4626, averageMBps: 2474),
                MeasuredTraffic(workload: "ResNet50", direction: .total, peakMBps: 5298, averageMBps: 3132),
                MeasuredTraffic(workload: "SSD ADAS", direction: .total, peakMBps: 5724, averageMBps: 2049),
                MeasuredTraffic(workload: "YOLOv3-VOC", direction: .total, peakMBps: 6453, averageMBps: 3290),
            ]
        case ("B3136", true):
            [
                MeasuredTraffic(workload: "KV260 apps, whole accelerator design", direction: .read, peakMBps: 6200, averageMBps: 2600),
                MeasuredTraffic(workload: "KV260 apps, whole accelerator design", direction: .write, peakMBps: 1300, averageMBps: 440),
            ]
        default:
            []
        }
    }

    /// Op limits of ISA1 with channel parallelism `cp` and bank depth 2048, with the
    /// optional engines switched by the feature code.
    private static func limits(
        channelParallel cp: Int, imageBanks: Int, features: DPUCZDX8GFeatureCode
    ) -> OperatorLimits {
        let bankDepth = 2048
        let channels = 256 * cp
        // Hard-sigmoid / hard-swish: UG1414 3.5 lists them for ISA1_B4096 (the target
        // factory computes hsigmoid on the ALU). LeakyReLU only with the CV_LKRL bit.
        var convActivations: Set<Activation> = [.relu, .relu6, .hardSigmoid, .hardSwish]
        if features.hasConvLeakyReLU { convActivations.insert(.leakyReLU) }
        // ALU engine (depthwise conv, pooling): LeakyReLU only with the DW_LKRL bit,
        // which is off in every shipped target ("not enabled by default", UG1414).
        var depthwiseActivations: Set<Activation> = [.relu, .relu6, .hardSigmoid, .hardSwish]
        var poolActivations: Set<Activation> = [.relu, .relu6]
        var standalone: Set<Activation> = [.prelu, .hardSigmoid]
        if features.hasALULeakyReLU {
            depthwiseActivations.insert(.leakyReLU)
            poolActivations.insert(.leakyReLU)
            standalone.insert(.leakyReLU)
        }
        let pool = WindowLimits(
            kernel: .range(IntRange(1, 256)), stride: IntRange(1, 256), padding: SharedLimits.aluWindowPadding,
            activations: poolActivations,
            constraints: [.kernelRowsPerBankTimesWidth(banks: imageBanks, max: bankDepth)])
        return OperatorLimits(
            conv: WindowLimits(
                kernel: .range(IntRange(1, 16)), stride: IntRange(1, 8), padding: SharedLimits.convPadding,
                activations: convActivations,
                constraints: [
                    .kernelAreaTimesChannelGroups(channelParallel: cp, max: bankDepth),
                    .inputChannels(max: channels), .outputChannels(max: channels),
                    .dilationTimesInputChannels(max: channels), .unitStrideWhenDilated,
                ]),
            // UG1414 3.5: kernel and stride 1..256 (ISA0 of Vitis AI 1.4 had 1..16 and 1..8).
            depthwiseConv: WindowLimits(
                kernel: .range(IntRange(1, 256)), stride: IntRange(1, 256), padding: SharedLimits.aluPadding,
                activations: depthwiseActivations,
                constraints: [
                    .kernelAreaTimesChannelGroups(channelParallel: cp, max: bankDepth), .outputChannels(max: channels),
                ]),
            transposedConv: SharedLimits.transposedConv(channelParallel: cp, activations: convActivations),
            depthwiseTransposedConv: WindowLimits(
                kernelOverStride: .range(IntRange(1, 256)), padding: SharedLimits.aluWindowPadding,
                activations: depthwiseActivations),
            maxPool: pool,
            averagePool: pool,
            // Elementwise multiply is optional in older TRDs (disabled in Vitis AI 1.4's).
            eltwise: EltwiseLimits(
                kinds: [.add, .multiply], activations: [.relu], constraints: [.inputChannels(max: channels)]),
            resize: ResizeLimits(
                modes: [.nearest, .bilinear], nearestNeedsIntegerScale: true,
                bilinearCases: SharedLimits.bilinearCases,
                nearestConstraints: [.nearestScale(banks: imageBanks, channelParallel: cp, max: bankDepth)]),
            pad: SharedLimits.pad(channelParallel: cp),
            reorg: SharedLimits.reorg(channelParallel: cp),
            argmax: features.hasSaveArgmax ? [.inputChannels(max: 128)] : nil,
            reduceMax: [.inputChannels(max: 4095)],  // ic < 2^12
            correlation: [.inputChannels(max: channels)],
            standaloneActivations: standalone,
            concat: true,
            stridedSlice: true)
    }
}
