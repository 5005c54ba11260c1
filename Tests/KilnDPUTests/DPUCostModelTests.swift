import KilnDPU
import KilnTargets
import Testing

/// The cost model's arithmetic, stated on single operations (B4096: PP 8, ICP = OCP 16,
/// ALU PP 4, channel augmentation on).
@Suite struct DPUCostModelTests {
    static let b4096 = TestGraph.b4096

    static func board(_ name: String) throws -> BoardConfiguration {
        try #require(b4096.boards.first { $0.name == name })
    }

    static func model(_ board: String = "ZCU104") throws -> DPUCostModel {
        try #require(DPUCostModel(architecture: b4096, board: try Self.board(board)))
    }

    static func conv(
        _ input: FeatureShape, _ output: FeatureShape, kernel: Int, stride: Int = 1, weightBytes: Int = 0
    ) -> DPUOperation {
        DPUOperation(
            name: "conv", op: "Conv", engine: .conv, inputs: [FeatureInput(shape: input)], output: output,
            kernel: [kernel, kernel], strides: [stride, stride], weightBytes: weightBytes)
    }

    /// rows · ceil(width/PP) · kh · kw · ceil(ic/ICP) · ceil(oc/OCP); exact multiples
    /// reach the peak of 2048 MACs per cycle.
    @Test func convCyclesAtFullParallelism() throws {
        let model = try Self.model()
        let conv = Self.conv(FeatureShape(spatial: [56, 56], channels: 64), FeatureShape(spatial: [56, 56], channels: 64), kernel: 3)
        #expect(model.cycles(for: conv) == 56 * 7 * 9 * 4 * 4)
        #expect(model.cycles(for: conv) * 2048 == conv.macs)
    }

    /// Channels round up to the channel parallelism, the row width to the pixel parallelism.
    @Test func partialBlocksRoundUp() throws {
        let model = try Self.model()
        let conv = Self.conv(FeatureShape(spatial: [7, 7], channels: 24), FeatureShape(spatial: [7, 7], channels: 40), kernel: 1)
        #expect(model.cycles(for: conv) == 7 * 1 * 1 * 2 * 3)
    }

    /// Channel augmentation packs kernel columns of a 3-channel input into 2·ICP = 32
    /// channels: a 7×7 kernel row is ceil(21/16) = 2 steps instead of 7.
    @Test func channelAugmentationPacksTheFirstLayer() throws {
        let model = try Self.model()
        #expect(model.augmentedChannels == 32)
        let conv = Self.conv(
            FeatureShape(spatial: [224, 224], channels: 3), FeatureShape(spatial: [112, 112], channels: 64), kernel: 7, stride: 2)
        #expect(model.cycles(for: conv) == 112 * 14 * 7 * 2 * 4)
    }

    /// Depthwise conv and pooling run on the ALU: ALU PP pixels × ICP channels, one tap per cycle.
    @Test func aluEnginesUseTheirOwnParallelism() throws {
        let model = try Self.model()
        let shape = FeatureShape(spatial: [14, 14], channels: 96)
        let depthwise = DPUOperation(
            name: "dw", op: "Conv", engine: .depthwise, inputs: [FeatureInput(shape: shape)], output: shape, kernel: [3, 3])
        #expect(model.cycles(for: depthwise) == 14 * 4 * 9 * 6)
        let add = DPUOperation(
            name: "add", op: "Add", engine: .eltwise, inputs: [FeatureInput(shape: shape), FeatureInput(shape: shape)], output: shape)
        #expect(model.cycles(for: add) == 14 * 4 * 6)
        let load = DPUOperation(name: "ld", op: "Load", engine: .load, inputs: [FeatureInput(shape: shape)], output: shape)
        #expect(model.cycles(for: load) == 0)
    }

    /// Weights and features load once when either fits its bank; when neither does, the
    /// cheaper operand is reloaded per tile of the other.
    @Test func trafficReloadsOnlyWhenNeitherOperandFits() throws {
        let model = try Self.model()
        let weights = 512 * 512 * 9 + 512
        let small = Self.conv(
            FeatureShape(spatial: [7, 7], channels: 512), FeatureShape(spatial: [7, 7], channels: 512), kernel: 3, weightBytes: weights)
        #expect(model.cost(of: small).weightLoadBytes == weights)
        #expect(model.cost(of: small).featureLoadBytes == 7 * 7 * 512)
        let large = Self.conv(
            FeatureShape(spatial: [28, 28], channels: 512), FeatureShape(spatial: [28, 28], channels: 512), kernel: 3, weightBytes: weights)
        let features = 28 * 28 * 512
        let cost = model.cost(of: large)
        // 2.36 MB of weights > 512 KiB; 401 KB of features > 256 KiB: features are loaded
        // once per 512 KiB weight tile (5 tiles) — cheaper than weights twice.
        #expect(cost.weightLoadBytes == weights)
        #expect(cost.featureLoadBytes == features * 5)
    }

    /// Time: loads and stores overlap the engine; only the first tile and the last row do not.
    @Test func timeOverlapsComputeAndMemory() throws {
        let model = try Self.model()
        let conv = Self.conv(
            FeatureShape(spatial: [7, 7], channels: 512), FeatureShape(spatial: [7, 7], channels: 512), kernel: 3,
            weightBytes: 512 * 512 * 9)
        let cost = model.cost(of: conv)
        #expect(cost.memorySeconds > cost.computeSeconds)  // the late ResNet layers are weight-bound
        #expect(cost.seconds == max(cost.computeSeconds, cost.memorySeconds) + cost.exposedMemorySeconds)
        #expect(cost.exposedMemorySeconds > 0 && cost.exposedMemorySeconds < 0.1 * cost.seconds)
    }

    /// Bandwidth: measured on the board where published, else the family's highest
    /// published traffic, capped by the data ports at the board's clock.
    @Test func bandwidthPerBoard() throws {
        #expect(try Self.model("ZCU102").bandwidth?.bytesPerSecond == 6453e6)
        #expect(try Self.model("ZCU104").bandwidth?.bytesPerSecond == 6453e6)
        #expect(try Self.model("KV260").bandwidth?.bytesPerSecond == 6200e6)
        let slow = BoardConfiguration(name: "slow", cores: 1, clockMHz: 100)
        let capped = try #require(DPUCostModel(architecture: Self.b4096, board: slow))
        #expect(capped.bandwidth?.bytesPerSecond == 2 * 16 * 100e6)
    }

    /// The board sets clock and cores; the architecture's defaults stand in without one.
    @Test func boardSetsClockAndCores() throws {
        let zcu102 = try Self.model("ZCU102")
        #expect(zcu102.clockMHz == 281)
        #expect(zcu102.cores == 3)
        #expect(zcu102.lanes == 3)
        let bare = try #require(DPUCostModel(architecture: Self.b4096, board: nil))
        #expect(bare.clockMHz == 300)
        #expect(bare.cores == 1)
        #expect(DPUCostModel.cycles(for: Self.conv(
            FeatureShape(spatial: [8], channels: 16), FeatureShape(spatial: [8], channels: 16), kernel: 1), on: Self.b4096) == 1)
    }

    /// A target whose parallelism or clock is not public has no model, and says why.
    @Test func unpublishedFiguresMeanNoModel() throws {
        let v2 = try #require(Catalog.architectures.first { $0.family == .dpucv2dx8g })
        #expect(DPUCostModel(architecture: v2, board: nil) == nil)
        #expect(DPUCostModel.missingFigures(architecture: v2, board: nil).contains("pixel_parallelism"))
        #expect(DPUCostModel.missingFigures(architecture: Self.b4096, board: nil).isEmpty)
    }

    /// Host time: per element of the model's inputs and outputs, plus each intermediate
    /// CPU↔DPU tensor.
    @Test func hostTimeOfAClassifierFrame() {
        let host = HostModel.zynqUltraScalePlus
        let seconds = host.seconds(elements: 3 * 224 * 224 + 1000, transitions: 0)
        #expect(abs(seconds - 0.494e-3) < 0.001e-3)
        #expect(abs(host.seconds(elements: 0, transitions: 2) - 0.166e-3) < 1e-9)
        #expect(HostModel.forFamily(.dpucvdx8g) == nil)
    }
}
