import Foundation
import KilnDPU
import KilnTargets
import Testing

/// Published model-zoo entries beyond the three, checked the same way to show the
/// model is not tuned to them. VGG-16 (30.96 GOP, 138 M parameters: a 550 MB ONNX file) and
/// MobileNetV1 are plain chains, so their workloads are written out here layer by layer,
/// with the fusions ``DPUWorkload`` makes (a conv read only by a pool stays on chip).
@Suite struct OtherZooEntriesTests {
    /// A chain of layers with TensorFlow SAME padding; ReLUs fold into the layer before.
    struct Chain {
        var operations: [DPUOperation] = []
        var shape: FeatureShape

        init(height: Int, width: Int, channels: Int) {
            shape = FeatureShape(spatial: [height, width], channels: channels)
        }

        mutating func add(_ engine: DPUEngine, op: String, channels: Int, kernel: Int, stride: Int, weightBytes: Int) {
            let output = FeatureShape(
                spatial: shape.spatial.map { ($0 + stride - 1) / stride }, channels: channels)
            let operation = DPUOperation(
                name: "\(op)\(operations.count)", op: op, engine: engine, inputs: [FeatureInput(shape: shape)], output: output,
                kernel: [kernel, kernel], strides: [stride, stride], weightBytes: weightBytes)
            operations.append(operation)
            shape = output
        }

        mutating func conv(_ channels: Int, kernel: Int = 3, stride: Int = 1) {
            add(.conv, op: "Conv", channels: channels, kernel: kernel, stride: stride,
                weightBytes: channels * shape.channels * kernel * kernel + channels)
        }

        mutating func depthwise(stride: Int) {
            add(.depthwise, op: "DepthwiseConv", channels: shape.channels, kernel: 3, stride: stride,
                weightBytes: shape.channels * 10)
        }

        /// A pool reading the previous conv's result from the banks.
        mutating func pool(kernel: Int, stride: Int) {
            operations[operations.count - 1].storesOutput = false
            add(.pool, op: "Pool", channels: shape.channels, kernel: kernel, stride: stride, weightBytes: 0)
            operations[operations.count - 1].inputs[0].isLoaded = false
        }

        mutating func fullyConnected(_ outputs: Int) {
            let inputs = shape.elements
            operations.append(DPUOperation(
                name: "fc\(operations.count)", op: "Gemm", engine: .conv,
                inputs: [FeatureInput(shape: FeatureShape(spatial: [1], channels: inputs))],
                output: FeatureShape(spatial: [1], channels: outputs), kernel: [1], weightBytes: inputs * outputs + outputs))
            shape = FeatureShape(spatial: [1], channels: outputs)
        }
    }

    static func vgg16() -> SubgraphWorkload {
        var chain = Chain(height: 224, width: 224, channels: 3)
        for (channels, convs) in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)] {
            for _ in 0..<convs { chain.conv(channels) }
            chain.pool(kernel: 2, stride: 2)
        }
        for outputs in [4096, 4096, 1000] { chain.fullyConnected(outputs) }
        return SubgraphWorkload(id: 0, name: "vgg16", operations: chain.operations)
    }

    static func mobileNetV1() -> SubgraphWorkload {
        var chain = Chain(height: 224, width: 224, channels: 3)
        chain.conv(32, stride: 2)
        let blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + Array(repeating: (512, 1), count: 5)
            + [(1024, 2), (1024, 1)]
        for (channels, stride) in blocks {
            chain.depthwise(stride: stride)
            chain.conv(channels, kernel: 1)
        }
        chain.pool(kernel: 7, stride: 7)
        chain.fullyConnected(1001)
        return SubgraphWorkload(id: 0, name: "mobilenet_v1", operations: chain.operations)
    }

    /// Vitis AI 2.0 model zoo (Z20), TensorFlow models, 224×224: end-to-end single-thread FPS.
    static let rows: [(model: String, workload: SubgraphWorkload, gop: Double, board: String, published: Double)] = [
        ("vgg_16", vgg16(), 30.96, "ZCU102", 20.1),
        ("vgg_16", vgg16(), 30.96, "ZCU104", 21.4),
        ("mobilenet_v1_1.0", mobileNetV1(), 1.14, "ZCU102", 305.8),
        ("mobilenet_v1_1.0", mobileNetV1(), 1.14, "ZCU104", 321.3),
    ]

    @Test func predictedFPSIsWithin30PercentOfPublished() throws {
        let b4096 = TestGraph.b4096
        var lines = ["model             board   published  predicted  error"]
        for row in Self.rows {
            #expect(abs(row.workload.gop - row.gop) / row.gop < 0.02, "\(row.model): \(row.workload.gop) GOP")
            let board = try #require(b4096.boards.first { $0.name == row.board })
            let model = try #require(DPUCostModel(architecture: b4096, board: board))
            let dpu = PerformanceModel.predict(row.workload, with: model).latencyMs
            let host = (model.host?.seconds(elements: 3 * 224 * 224 + (row.workload.operations.last?.output.channels ?? 0), transitions: 0) ?? 0) * 1e3
            let fps = 1000 / (dpu + host)
            let error = fps / row.published - 1
            lines.append(
                row.model.padding(toLength: 18, withPad: " ", startingAt: 0) + row.board.padding(toLength: 7, withPad: " ", startingAt: 0)
                    + String(format: "%9.1f  %9.1f  %+5.1f%%", row.published, fps, 100 * error))
            #expect(abs(error) <= 0.30, "\(row.model) on \(row.board): \(fps) FPS vs \(row.published)")
        }
        print(lines.joined(separator: "\n"))
    }
}
