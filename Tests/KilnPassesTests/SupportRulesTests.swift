import KilnCore
import KilnIR
import KilnPasses
import KilnTargets
import Testing

/// One node just inside and one just outside each limit of DPUCZDX8G_ISA1_B4096 the rules
/// check: the node named `node` must land on the expected device with a reason that
/// contains `reason`.
struct RuleCase: Sendable, CustomTestStringConvertible {
    let label: String
    let node: String
    let isDPU: Bool
    let reason: String
    let build: @Sendable (inout PartitionTestGraph) -> ValueID

    init(
        _ label: String, _ node: String, dpu isDPU: Bool, _ reason: String,
        _ build: @escaping @Sendable (inout PartitionTestGraph) -> ValueID
    ) {
        self.label = label
        self.node = node
        self.isDPU = isDPU
        self.reason = reason
        self.build = build
    }

    var testDescription: String { label }
}

private func ints(_ values: [Int]) -> AttributeValue { .ints(values) }

/// conv `name` over `[1, channels, size, size]` with a square kernel.
private func convCase(
    channels: Int = 4, out: Int = 4, size: Int = 8, kernel: Int, group: Int = 1,
    _ attributes: [String: AttributeValue] = [:]
) -> @Sendable (inout PartitionTestGraph) -> ValueID {
    { g in
        let x = g.input("x", [1, channels, size, size])
        return g.conv(x, inputs: channels, out: out, kernel: [kernel, kernel], group: group, name: "conv", attributes)
    }
}

private func poolCase(
    _ op: OpKind, height: Int, width: Int, _ attributes: [String: AttributeValue]
) -> @Sendable (inout PartitionTestGraph) -> ValueID {
    { g in g.node(op, [g.input("x", [1, 2, height, width])], name: "pool", attributes) }
}

/// `activation` after the output of `producer` (a conv by default).
private func activationCase(
    _ op: OpKind, _ attributes: [String: AttributeValue] = [:], after producer: String = "conv"
) -> @Sendable (inout PartitionTestGraph) -> ValueID {
    { g in
        let x = g.input("x", [1, 4, 8, 8])
        let source: ValueID = switch producer {
        case "depthwise": g.conv(x, inputs: 4, out: 4, kernel: [3, 3], group: 4, name: "dw", ["pads": ints([1, 1, 1, 1])])
        case "add": g.node(.add, [x, g.input("z", [1, 4, 8, 8])], name: "add")
        case "pool": g.node(.maxPool, [x], name: "pool", ["kernel_shape": ints([2, 2])])
        case "sigmoid": g.node(.sigmoid, [x], name: "sigmoid")
        default: g.conv(x, inputs: 4, out: 4, kernel: [3, 3], name: "conv", ["pads": ints([1, 1, 1, 1])])
        }
        return g.node(op, [source], name: "act", attributes)
    }
}

private func resizeCase(mode: String, transform: String, scale: Float, channels: Int = 4, size: Int = 4) -> @Sendable (inout PartitionTestGraph) -> ValueID {
    { g in
        let x = g.input("x", [1, channels, size, size])
        let scales = g.floats([1, 1, scale, scale])
        return g.node(.resize, [x, nil, scales], name: "resize", [
            "mode": .string(mode), "coordinate_transformation_mode": .string(transform), "nearest_mode": .string("floor"),
        ])
    }
}

@Suite struct SupportRulesTests {
    static let windowCases: [RuleCase] = [
        RuleCase("conv kernel 16 inside", "conv", dpu: true, "Conv 16x16 on the conv engine", convCase(size: 20, kernel: 16)),
        RuleCase("conv kernel 17 outside", "conv", dpu: false, "kernel 17x17 exceeds the 1..16 limit", convCase(size: 20, kernel: 17)),
        RuleCase("conv stride 8 inside", "conv", dpu: true, "stride 8", convCase(size: 32, kernel: 3, ["strides": ints([8, 8])])),
        RuleCase("conv stride 9 outside", "conv", dpu: false, "stride 9 exceeds the 1..8 limit", convCase(size: 32, kernel: 3, ["strides": ints([9, 9])])),
        RuleCase("conv pad k-1 inside", "conv", dpu: true, "Conv 3x3", convCase(kernel: 3, ["pads": ints([2, 2, 2, 2])])),
        RuleCase("conv pad k outside", "conv", dpu: false, "pad 3 is outside the 0..(k−1)·dilation limit", convCase(kernel: 3, ["pads": ints([3, 0, 0, 0])])),
        RuleCase("dilated pad inside", "conv", dpu: true, "Conv 3x3", convCase(size: 12, kernel: 3, ["dilations": ints([2, 2]), "pads": ints([4, 4, 4, 4])])),
        RuleCase("dilated pad outside", "conv", dpu: false, "pad 5", convCase(size: 12, kernel: 3, ["dilations": ints([2, 2]), "pads": ints([5, 5, 5, 5])])),
        RuleCase("dilation with stride 1 inside", "conv", dpu: true, "Conv 3x3", convCase(size: 16, kernel: 3, ["dilations": ints([3, 3])])),
        RuleCase("dilation with stride 2 outside", "conv", dpu: false, "dilation 3 with stride 2 is not supported", convCase(size: 16, kernel: 3, ["dilations": ints([3, 3]), "strides": ints([2, 2])])),
        RuleCase("bank depth inside", "conv", dpu: true, "Conv 3x3", convCase(channels: 3632, out: 1, size: 3, kernel: 3)),
        RuleCase("bank depth outside", "conv", dpu: false, "kernel 3x3 with 3633 input channels needs 2052 weight rows", convCase(channels: 3633, out: 1, size: 3, kernel: 3)),
        RuleCase("input channels inside", "conv", dpu: true, "Conv 1x1", convCase(channels: 4096, out: 1, size: 1, kernel: 1)),
        RuleCase("input channels outside", "conv", dpu: false, "4097 input channels exceed the limit (ic ≤ 4096)", convCase(channels: 4097, out: 1, size: 1, kernel: 1)),
        RuleCase("output channels inside", "conv", dpu: true, "Conv 1x1", convCase(channels: 1, out: 4096, size: 1, kernel: 1)),
        RuleCase("output channels outside", "conv", dpu: false, "4097 output channels exceed the limit (oc ≤ 4096)", convCase(channels: 1, out: 4097, size: 1, kernel: 1)),
        RuleCase("dilation·ic inside", "conv", dpu: true, "Conv 1x1", convCase(channels: 2048, out: 1, size: 2, kernel: 1, ["dilations": ints([2, 2])])),
        RuleCase("dilation·ic outside", "conv", dpu: false, "dilation 2 with 2049 input channels exceeds the limit (dilation·ic ≤ 4096)", convCase(channels: 2049, out: 1, size: 2, kernel: 1, ["dilations": ints([2, 2])])),
        RuleCase("group 1 inside", "conv", dpu: true, "Conv 3x3", convCase(kernel: 3)),
        RuleCase("grouped conv outside", "conv", dpu: false, "grouped Conv (group 2 over 4 channels) is not supported", convCase(kernel: 3, group: 2)),
        RuleCase("depthwise kernel 256 inside", "conv", dpu: true, "depthwise Conv 256x1 on the depthwise conv (ALU) engine", { g in
            let x = g.input("x", [1, 2, 256, 4])
            return g.node(.conv, [x, g.constant([2, 1, 256, 1])], name: "conv", ["group": .int(2)])
        }),
        RuleCase("depthwise kernel 257 outside", "conv", dpu: false, "kernel 257x1 exceeds the 1..256 limit", { g in
            let x = g.input("x", [1, 2, 257, 4])
            return g.node(.conv, [x, g.constant([2, 1, 257, 1])], name: "conv", ["group": .int(2)])
        }),
        RuleCase("depthwise bank inside", "conv", dpu: true, "depthwise Conv 45x45", convCase(channels: 2, out: 2, size: 45, kernel: 45, group: 2)),
        RuleCase("depthwise bank outside", "conv", dpu: false, "kernel 46x46 with 2 input channels needs 2116 weight rows", convCase(channels: 2, out: 2, size: 46, kernel: 46, group: 2)),
        RuleCase("depthwise pad 15 inside", "conv", dpu: true, "depthwise Conv 17x17", convCase(channels: 2, out: 2, size: 17, kernel: 17, group: 2, ["pads": ints([15, 15, 15, 15])])),
        RuleCase("depthwise pad 16 outside", "conv", dpu: false, "pad 16 is outside the 0..min(k−1, 15)·dilation limit", convCase(channels: 2, out: 2, size: 17, kernel: 17, group: 2, ["pads": ints([16, 16, 16, 16])])),
        RuleCase("transposed k/s 16 inside", "convT", dpu: true, "ConvTranspose 16x16 on the conv engine (transposed)", { g in
            g.node(.convTranspose, [g.input("x", [1, 2, 4, 4]), g.constant([2, 2, 16, 16])], name: "convT")
        }),
        RuleCase("transposed k/s 17 outside", "convT", dpu: false, "kernel/stride 17/1 is outside the 1..16 limit", { g in
            g.node(.convTranspose, [g.input("x", [1, 2, 4, 4]), g.constant([2, 2, 17, 17])], name: "convT")
        }),
        RuleCase("transposed output_padding outside", "convT", dpu: false, "output_padding 1 is not supported", { g in
            g.node(.convTranspose, [g.input("x", [1, 2, 4, 4]), g.constant([2, 2, 3, 3])], name: "convT", [
                "strides": ints([2, 2]), "output_padding": ints([1, 1]),
            ])
        }),
        RuleCase("maxpool bank inside", "pool", dpu: true, "MaxPool 64x256", poolCase(.maxPool, height: 64, width: 256, ["kernel_shape": ints([64, 256])])),
        RuleCase("maxpool bank outside", "pool", dpu: false, "breaks ceil(kh/8)·kw ≤ 2048", poolCase(.maxPool, height: 65, width: 256, ["kernel_shape": ints([65, 256])])),
        RuleCase("maxpool kernel 257 outside", "pool", dpu: false, "kernel 1x257 exceeds the 1..256 limit", poolCase(.maxPool, height: 1, width: 257, ["kernel_shape": ints([1, 257])])),
        RuleCase("avgpool pad 2 inside", "pool", dpu: true, "AveragePool 3x3", poolCase(.averagePool, height: 8, width: 8, ["kernel_shape": ints([3, 3]), "pads": ints([2, 2, 2, 2])])),
        RuleCase("avgpool pad 3 outside", "pool", dpu: false, "pad 3 is outside the 0..min(k−1, 15) limit", poolCase(.averagePool, height: 8, width: 8, ["kernel_shape": ints([3, 3]), "pads": ints([3, 3, 3, 3])])),
        RuleCase("maxpool stride 256 inside", "pool", dpu: true, "stride 1x256", poolCase(.maxPool, height: 2, width: 300, ["kernel_shape": ints([1, 1]), "strides": ints([1, 256])])),
        RuleCase("maxpool stride 257 outside", "pool", dpu: false, "stride 1x257 exceeds the 1..256 limit", poolCase(.maxPool, height: 2, width: 300, ["kernel_shape": ints([1, 1]), "strides": ints([1, 257])])),
        RuleCase("global pool inside", "pool", dpu: true, "GlobalAveragePool 64x256", poolCase(.globalAveragePool, height: 64, width: 256, [:])),
        RuleCase("global pool outside", "pool", dpu: false, "breaks ceil(kh/8)·kw ≤ 2048", poolCase(.globalAveragePool, height: 72, width: 256, [:])),
    ]

    static let otherCases: [RuleCase] = [
        RuleCase("gemm 4096 outputs inside", "fc", dpu: true, "fully connected 2→4096", { g in
            g.node(.gemm, [g.input("x", [1, 2]), g.constant([2, 4096])], name: "fc")
        }),
        RuleCase("gemm 4097 outputs outside", "fc", dpu: false, "4097 output channels exceed the limit", { g in
            g.node(.gemm, [g.input("x", [1, 2]), g.constant([2, 4097])], name: "fc")
        }),
        RuleCase("matmul constant weights inside", "fc", dpu: true, "fully connected 8→3", { g in
            g.node(.matMul, [g.input("x", [1, 5, 8]), g.constant([8, 3])], name: "fc")
        }),
        RuleCase("matmul computed weights outside", "fc", dpu: false, "needs constant weights", { g in
            g.node(.matMul, [g.input("x", [1, 5, 8]), g.input("w", [8, 3])], name: "fc")
        }),
        RuleCase("eltwise 4096 channels inside", "add", dpu: true, "eltwise Add", { g in
            g.node(.add, [g.input("a", [1, 4096, 1, 1]), g.input("b", [1, 4096, 1, 1])], name: "add")
        }),
        RuleCase("eltwise 4097 channels outside", "add", dpu: false, "4097 input channels exceed the limit", { g in
            g.node(.add, [g.input("a", [1, 4097, 1, 1]), g.input("b", [1, 4097, 1, 1])], name: "add")
        }),
        RuleCase("eltwise broadcast outside", "mul", dpu: false, "the eltwise engine needs equal shapes", { g in
            g.node(.mul, [g.input("a", [1, 4, 8, 8]), g.input("b", [1, 4, 1, 1])], name: "mul")
        }),
        RuleCase("mul by a per-channel constant inside", "mul", dpu: true, "runs as a depthwise conv", { g in
            g.node(.mul, [g.input("a", [1, 4, 8, 8]), g.constant([4, 1, 1])], name: "mul")
        }),
        RuleCase("add of a per-pixel constant outside", "add", dpu: false, "is not per-channel", { g in
            g.node(.add, [g.input("a", [1, 4, 8, 8]), g.constant([1, 1, 8, 8])], name: "add")
        }),
        RuleCase("relu after conv inside", "act", dpu: true, "Relu fused into Conv 'conv'", activationCase(.relu)),
        RuleCase("relu after a CPU node outside", "act", dpu: false, "follows Sigmoid 'sigmoid', which runs on the CPU", activationCase(.relu, after: "sigmoid")),
        RuleCase("relu after add inside", "act", dpu: true, "Relu fused into Add 'add'", activationCase(.relu, after: "add")),
        RuleCase("relu6 after add outside", "act", dpu: false, "cannot fuse into Add 'add': the eltwise engine of DPUCZDX8G fuses relu", activationCase(.relu6, after: "add")),
        RuleCase("relu6 after pool inside", "act", dpu: true, "ReLU6 fused into MaxPool 'pool'", activationCase(.relu6, after: "pool")),
        RuleCase("hardswish after pool outside", "act", dpu: false, "the pooling engine of DPUCZDX8G fuses relu, relu6", activationCase(.hardSwish, after: "pool")),
        RuleCase("leaky 0.1 after conv inside", "act", dpu: true, "LeakyRelu fused into Conv 'conv' (slope 0.1 runs as 26/256)", activationCase(.leakyRelu, ["alpha": .float(0.1)])),
        RuleCase("leaky 0.2 outside", "act", dpu: false, "LeakyRelu slope 0.2 is not supported; the DPU's only slope is 26/256", activationCase(.leakyRelu, ["alpha": .float(0.2)])),
        RuleCase("leaky after depthwise outside", "act", dpu: false, "cannot fuse into Conv 'dw'", activationCase(.leakyRelu, ["alpha": .float(0.1)], after: "depthwise")),
        RuleCase("hard sigmoid 1/6 inside", "act", dpu: true, "HardSigmoid fused into Conv 'conv'", activationCase(.hardSigmoid, ["alpha": .float(1.0 / 6.0), "beta": .float(0.5)])),
        RuleCase("hard sigmoid 0.2 outside", "act", dpu: false, "HardSigmoid alpha 0.2, beta 0.5 is not the DPU's relu6(x + 3)/6", activationCase(.hardSigmoid)),
        RuleCase("clip 0..6 inside", "act", dpu: true, "Clip(0, 6) as ReLU6 fused into Conv 'conv'", { g in
            let x = g.input("x", [1, 4, 8, 8])
            let y = g.conv(x, inputs: 4, out: 4, kernel: [1, 1], name: "conv")
            return g.node(.clip, [y, g.floats([0], shape: []), g.floats([6], shape: [])], name: "act")
        }),
        RuleCase("clip -1..1 outside", "act", dpu: false, "Clip(-1, 1) is neither Relu nor ReLU6", { g in
            let x = g.input("x", [1, 4, 8, 8])
            let y = g.conv(x, inputs: 4, out: 4, kernel: [1, 1], name: "conv")
            return g.node(.clip, [y, g.floats([-1], shape: []), g.floats([1], shape: [])], name: "act")
        }),
        RuleCase("silu outside", "act", dpu: false, "SiLU is not a DPU activation on DPUCZDX8G", activationCase(.silu)),
        RuleCase("prelu standalone inside", "act", dpu: true, "PRelu runs standalone on the DPU's ALU", { g in
            let x = g.input("x", [1, 4, 8, 8])
            let y = g.conv(x, inputs: 4, out: 4, kernel: [1, 1], name: "conv")
            return g.node(.pRelu, [y, g.constant([4, 1, 1])], name: "act")
        }),
        RuleCase("resize nearest x8 at 4096 channels inside", "resize", dpu: true, "Resize nearest x8", resizeCase(mode: "nearest", transform: "asymmetric", scale: 8, channels: 4096, size: 1)),
        RuleCase("resize nearest x8 at 4097 channels outside", "resize", dpu: false, "scale 8 with 4097 channels exceeds the limit", resizeCase(mode: "nearest", transform: "asymmetric", scale: 8, channels: 4097, size: 1)),
        RuleCase("resize linear half-pixel x4 inside", "resize", dpu: true, "Resize linear x4", resizeCase(mode: "linear", transform: "half_pixel", scale: 4)),
        RuleCase("resize linear half-pixel x8 outside", "resize", dpu: false, "Resize linear x8 with half_pixel coordinates is not supported; the DPU takes scales 2, 4 there", resizeCase(mode: "linear", transform: "half_pixel", scale: 8)),
        RuleCase("resize cubic outside", "resize", dpu: false, "Resize mode cubic is not supported; nearest and linear are", resizeCase(mode: "cubic", transform: "asymmetric", scale: 2)),
        RuleCase("zero pad inside", "pad", dpu: true, "zero Pad", { g in
            g.node(.pad, [g.input("x", [1, 4, 8, 8]), g.ints([0, 0, 1, 1, 0, 0, 1, 1])], name: "pad")
        }),
        RuleCase("reflect pad outside", "pad", dpu: false, "Pad mode reflect is not supported; zero (constant) padding is", { g in
            g.node(.pad, [g.input("x", [1, 4, 8, 8]), g.ints([0, 0, 1, 1, 0, 0, 1, 1])], name: "pad", ["mode": .string("reflect")])
        }),
        RuleCase("concat along channels inside", "concat", dpu: true, "Concat of 2 feature maps along channels", { g in
            g.node(.concat, [g.input("a", [1, 4, 8, 8]), g.input("b", [1, 2, 8, 8])], name: "concat", ["axis": .int(1)])
        }),
        RuleCase("concat along width outside", "concat", dpu: false, "Concat along axis 3 of 4-D tensors is not supported", { g in
            g.node(.concat, [g.input("a", [1, 4, 8, 8]), g.input("b", [1, 4, 8, 2])], name: "concat", ["axis": .int(3)])
        }),
        RuleCase("space-to-depth 1024 channels inside", "reorg", dpu: true, "SpaceToDepth (block 2) as a reorg", { g in
            g.node(.spaceToDepth, [g.input("x", [1, 1024, 2, 2])], name: "reorg", ["blocksize": .int(2)])
        }),
        RuleCase("space-to-depth 1025 channels outside", "reorg", dpu: false, "block 2 with 1025 input channels exceeds the limit (stride²·ic ≤ 4096)", { g in
            g.node(.spaceToDepth, [g.input("x", [1, 1025, 2, 2])], name: "reorg", ["blocksize": .int(2)])
        }),
        RuleCase("depth-to-space 4096 channels inside", "reorg", dpu: true, "DepthToSpace (block 2) as a reorg", { g in
            g.node(.depthToSpace, [g.input("x", [1, 4096, 1, 1])], name: "reorg", ["blocksize": .int(2)])
        }),
        RuleCase("depth-to-space 4100 channels outside", "reorg", dpu: false, "4100 input channels exceed the limit (ic ≤ 4096)", { g in
            g.node(.depthToSpace, [g.input("x", [1, 4100, 1, 1])], name: "reorg", ["blocksize": .int(2)])
        }),
        RuleCase("argmax 128 channels inside", "argmax", dpu: true, "ArgMax over channels", { g in
            g.node(.argMax, [g.input("x", [1, 128, 2, 2])], name: "argmax", ["axis": .int(1)])
        }),
        RuleCase("argmax 129 channels outside", "argmax", dpu: false, "129 input channels exceed the limit (ic ≤ 128)", { g in
            g.node(.argMax, [g.input("x", [1, 129, 2, 2])], name: "argmax", ["axis": .int(1)])
        }),
        RuleCase("slice width step 2 inside", "slice", dpu: true, "Slice as a strided slice", { g in
            g.node(.slice, [g.input("x", [1, 4, 8, 8]), g.ints([0]), g.ints([8]), g.ints([3]), g.ints([2])], name: "slice")
        }),
        RuleCase("slice channel step 2 outside", "slice", dpu: false, "Slice with step 2 on the channel axis is not supported", { g in
            g.node(.slice, [g.input("x", [1, 4, 8, 8]), g.ints([0]), g.ints([4]), g.ints([1]), g.ints([2])], name: "slice")
        }),
    ]

    static let genericCases: [RuleCase] = [
        RuleCase("float32 inside", "conv", dpu: true, "Conv 1x1", convCase(kernel: 1)),
        RuleCase("float64 outside", "conv", dpu: false, "float64 tensors run on the CPU", { g in
            let x = g.input("x", [1, 4, 8, 8], dtype: .float64)
            let weights = Tensor(shape: [2, 4, 1, 1], scalars: [Double](repeating: 0.5, count: 8))
            var graph = g.graph
            let w = graph.addValue(Value(name: "w64", type: TensorType(dtype: .float64, shape: [2, 4, 1, 1])))
            graph.initializers[w] = weights
            g.graph = graph
            return g.node(.conv, [x, w], name: "conv")
        }),
        RuleCase("static batch inside", "conv", dpu: true, "Conv 3x3", convCase(kernel: 3)),
        RuleCase("symbolic batch outside", "conv", dpu: false, "dynamic shape: the DPU needs static shapes (dim 'batch')", { g in
            let x = g.input("x", dims: [.symbol("batch"), .known(4), .known(8), .known(8)])
            return g.conv(x, inputs: 4, out: 4, kernel: [3, 3], name: "conv")
        }),
        RuleCase("LSTM outside", "lstm", dpu: false, "LSTM has no DPU engine", { g in
            let x = g.input("x", [3, 1, 4])
            return g.nodes(.lstm, [x, g.constant([1, 8, 4]), g.constant([1, 8, 2])], name: "lstm", outputs: 1, ["hidden_size": .int(2)])[0]
        }),
        RuleCase("flatten into FC inside", "flatten", dpu: true, "Flatten into the fully connected layer (folded into its weights)", { g in
            let x = g.input("x", [1, 4, 2, 2])
            let y = g.conv(x, inputs: 4, out: 4, kernel: [1, 1], name: "conv")
            let flat = g.node(.flatten, [y], name: "flatten", ["axis": .int(1)])
            return g.node(.gemm, [flat, g.constant([16, 3])], name: "fc")
        }),
        RuleCase("reshape to 4-D outside", "reshape", dpu: false, "Reshape runs on the CPU (the DPU only folds a flatten into a fully connected layer", { g in
            g.node(.reshape, [g.input("x", [1, 4, 2, 2]), g.ints([1, 2, 4, 2])], name: "reshape")
        }),
        RuleCase("flatten into a CPU FC outside", "flatten", dpu: false, "Flatten feeds Gemm 'fc', which runs on the CPU", { g in
            let flat = g.node(.flatten, [g.input("x", [1, 4, 2, 2])], name: "flatten", ["axis": .int(1)])
            return g.node(.gemm, [flat, g.input("w", [16, 3])], name: "fc")
        }),
        RuleCase("reshape keeping the feature axis inside", "reshape", dpu: true, "Reshape regroups rows and keeps the feature axis", { g in
            g.node(.reshape, [g.input("x", [1, 16, 32]), g.ints([16, 32])], name: "reshape")
        }),
        RuleCase("reshape splitting the feature axis outside", "reshape", dpu: false, "Reshape runs on the CPU", { g in
            g.node(.reshape, [g.input("x", [1, 16, 32]), g.ints([1, 16, 4, 8])], name: "reshape")
        }),
        RuleCase("BN after conv folded", "bn", dpu: true, "folded into Conv 'conv'", { g in
            let y = g.conv(g.input("x", [1, 4, 8, 8]), inputs: 4, out: 4, kernel: [1, 1], name: "conv")
            return g.node(.batchNormalization, [y, g.constant([4]), g.constant([4]), g.constant([4]), g.floats([1, 1, 1, 1])], name: "bn")
        }),
        RuleCase("standalone BN as depthwise", "bn", dpu: true, "BatchNormalization runs as a depthwise conv", { g in
            g.node(.batchNormalization, [g.input("x", [1, 4, 8, 8]), g.constant([4]), g.constant([4]), g.constant([4]), g.floats([1, 1, 1, 1])], name: "bn")
        }),
    ]

    @Test(arguments: windowCases + otherCases + genericCases)
    func ruleDecides(_ rule: RuleCase) throws {
        var builder = PartitionTestGraph()
        let output = rule.build(&builder)
        let graph = try builder.finish([output])
        let annotation = annotate(graph, for: PartitionTestGraph.b4096)
        let placement = try #require(annotation.placement(of: rule.node, in: graph), "no node '\(rule.node)'")
        #expect(placement.isDPU == rule.isDPU, "\(placement)")
        #expect(placement.reason.contains(rule.reason), "reason: \(placement.reason)")
    }

    @Test func hardSwishFromHardSigmoidFusesBothNodes() throws {
        var g = PartitionTestGraph()
        let y = g.conv(g.input("x", [1, 4, 8, 8]), inputs: 4, out: 4, kernel: [1, 1], name: "conv")
        let gate = g.node(.hardSigmoid, [y], name: "gate", ["alpha": .float(1.0 / 6.0), "beta": .float(0.5)])
        let product = g.node(.mul, [y, gate], name: "mul")
        let graph = try g.finish([product])
        let annotation = annotate(graph, for: PartitionTestGraph.b4096)
        for name in ["gate", "mul"] {
            let placement = try #require(annotation.placement(of: name, in: graph))
            #expect(placement == .dpu(reason: "HardSwish (x·HardSigmoid(x)) fused into Conv 'conv'"))
        }
        #expect(annotation.anchors == [nil, 0, 0])
    }

    @Test func siluAsSigmoidTimesInputStaysOnTheCPU() throws {
        var g = PartitionTestGraph()
        let y = g.conv(g.input("x", [1, 4, 8, 8]), inputs: 4, out: 4, kernel: [1, 1], name: "conv")
        let gate = g.node(.sigmoid, [y], name: "gate")
        let product = g.node(.mul, [y, gate], name: "mul")
        let graph = try g.finish([product])
        let annotation = annotate(graph, for: PartitionTestGraph.b4096)
        #expect(annotation.placements[0].isDPU)
        for name in ["gate", "mul"] {
            let placement = try #require(annotation.placement(of: name, in: graph))
            #expect(!placement.isDPU)
            #expect(placement.reason.hasPrefix("SiLU (x·Sigmoid(x)) is not a DPU activation on DPUCZDX8G"))
        }
    }

    @Test func activationOfASharedResultDoesNotFuse() throws {
        var g = PartitionTestGraph()
        let y = g.conv(g.input("x", [1, 4, 8, 8]), inputs: 4, out: 4, kernel: [1, 1], name: "conv")
        let relu = g.node(.relu, [y], name: "relu")
        let other = g.node(.sigmoid, [y], name: "other")
        let graph = try g.finish([relu, other])
        let placement = annotate(graph, for: PartitionTestGraph.b4096).placement(of: "relu", in: graph)
        #expect(placement == .cpu(reason: "Relu cannot fuse into Conv 'conv': its result is also read by Sigmoid 'other'"))
    }

    @Test func shapeComputationsStayOnTheCPU() throws {
        var g = PartitionTestGraph()
        let x = g.input("x", [1, 4, 8, 8])
        let shape = g.node(.shape, [x], name: "shape")
        let batch = g.node(.gather, [shape, g.ints([0])], name: "gather", ["axis": .int(0)])
        let target = g.node(.concat, [batch, g.ints([-1])], name: "concat", ["axis": .int(0)])
        let reshaped = g.node(.reshape, [x, target], name: "reshape")
        let graph = try g.finish([reshaped])
        let annotation = annotate(graph, for: PartitionTestGraph.b4096)
        for name in ["shape", "gather", "concat"] {
            #expect(annotation.placement(of: name, in: graph) == .cpu(reason: "shape computation"), "\(name)")
        }
    }

    /// Every op gets a decision, with a non-empty reason, and ops without a rule say so.
    @Test func everyOpHasAReason() throws {
        for op in OpKind.allCases {
            var g = PartitionTestGraph()
            let x = g.input("x", [1, 4, 4, 4])
            let y = g.node(op, [x], name: "node")
            // Ops whose one-input form is invalid keep the types shape inference cannot give.
            var uninferred = g.graph
            uninferred.outputs = [y]
            let graph = (try? g.finish([y])) ?? uninferred
            let annotation = annotate(graph, for: PartitionTestGraph.b4096)
            #expect(annotation.placements.count == 1)
            #expect(!(annotation.placements.first?.reason.isEmpty ?? true), "\(op)")
        }
    }
}
