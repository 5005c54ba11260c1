import KilnIR
import KilnTargets

/// Judges one node for the DPU: `.dpu` with what runs it, or `.cpu` with why not.
typealias SupportRule = @Sendable (RuleContext) -> Decision

/// The partition rules, one table entry per op that can run on a DPU, assembled from the
/// op-family files (`SupportRules+<Family>.swift`). An op without an entry has no DPU
/// engine; ``cpuOnlyReasons`` says more for the ones users ask about.
enum SupportRules {
    /// Every rule, by op.
    static let table: [OpKind: SupportRule] = {
        var table: [OpKind: SupportRule] = [:]
        for family in [conv, pool, matrix, activation, eltwise, dataMovement] {
            table.merge(family) { _, new in new }
        }
        return table
    }()

    /// Reasons for ops that never run on a DPU, where a hint helps more than
    /// "X has no DPU engine".
    static let cpuOnlyReasons: [OpKind: String] = [
        .sub: "Sub has no DPU engine (the eltwise engine adds and multiplies)",
        .div: "Div has no DPU engine (the eltwise engine adds and multiplies)",
        .softmax: "Softmax has no DPU engine (some boards add a softmax IP beside the DPU)",
        .tanh: "Tanh has no DPU engine",
        .transpose: "Transpose runs on the CPU (the DPU only folds layout changes into its loads and stores)",
        .cast: "Cast runs on the CPU (the DPU computes in int8 only)",
        .if: "If runs on the CPU (control flow)",
        .loop: "Loop runs on the CPU (control flow)",
        .quantizeLinear: "QuantizeLinear runs on the CPU (Kiln quantizes DPU subgraphs itself)",
        .dequantizeLinear: "DequantizeLinear runs on the CPU (Kiln quantizes DPU subgraphs itself)",
        .dpuSubgraph: "already a DPU subgraph; it is not partitioned again",
    ]

    /// Ops whose results on the DPU are integers (indices), exempt from the float32 check
    /// of their outputs.
    static let integerResults: Set<OpKind> = [.argMax]

    /// Engines a bias, scale or BatchNormalization can be folded into.
    static let foldingEngines: Set<Engine> = [
        .conv, .depthwiseConv, .transposedConv, .depthwiseTransposedConv, .conv3d, .depthwiseConv3d,
    ]

    /// Whether `node` acts as the activation of the op it is fused into (a `Mul` is fused
    /// only as the tail of `x · HardSigmoid(x)`).
    static func isActivation(_ node: Node) -> Bool {
        [.relu, .relu6, .leakyRelu, .hardSigmoid, .hardSwish, .clip, .pRelu, .mul].contains(node.op)
    }

    /// Second look, after every node is decided: a node placed on the DPU for its readers'
    /// sake (a flatten into a fully connected layer) goes back to the CPU when a reader did
    /// not make it to the DPU.
    static func revisit(_ decisions: [Decision], facts: GraphFacts) -> [Decision] {
        var decisions = decisions
        for (index, node) in facts.graph.nodes.enumerated().reversed()
        where decisions[index].followsReaders && decisions[index].placement.isDPU {
            for case let output? in node.outputs {
                if let reader = facts.readers[output.index].first(where: { !decisions[$0].placement.isDPU }) {
                    let readerNode = facts.graph.nodes[reader]
                    decisions[index] = .cpu(
                        "\(node.op.displayName) feeds \(readerNode.op.displayName) '\(readerNode.name)', which runs on the CPU")
                }
            }
        }
        return decisions
    }

    /// The sizes `layer` has that break `rule`, in words.
    static func describeViolation(_ rule: SizeConstraint, _ layer: LayerGeometry) -> String {
        let kernel = "\(layer.kernelHeight)x\(layer.kernelWidth)"
        let ic = layer.inputChannels
        switch rule {
        case .kernelAreaTimesChannelGroups(let channelParallel, _):
            let value = layer.kernelWidth * layer.kernelHeight * ((ic + channelParallel - 1) / channelParallel)
            return "kernel \(kernel) with \(ic) input channels needs \(value) weight rows, over the bank depth (\(rule))"
        case .inputChannels:
            return "\(ic) input channels exceed the limit (\(rule))"
        case .outputChannels:
            return "\(layer.outputChannels) output channels exceed the limit (\(rule))"
        case .dilationTimesInputChannels:
            return "dilation \(layer.dilation) with \(ic) input channels exceeds the limit (\(rule))"
        case .unitStrideWhenDilated:
            let stride = layer.strideWidth == layer.strideHeight
                ? "\(layer.strideWidth)" : "\(layer.strideHeight)x\(layer.strideWidth)"
            return "dilation \(layer.dilation) with stride \(stride) is not supported (\(rule))"
        case .squareKernel:
            return "kernel \(kernel) is not square (\(rule))"
        case .strideSquaredTimesInputChannels:
            return "block \(layer.strideWidth) with \(ic) input channels exceeds the limit (\(rule))"
        case .nearestScale:
            return "scale \(layer.scale) with \(ic) channels exceeds the limit (\(rule))"
        case .kernelArea, .kernelAreaTimesChannelBlocks, .kernelRowsPerBankTimesWidth, .strideWindow,
            .volumeChannelBlocks:
            return "kernel \(kernel) (stride \(layer.strideWidth), \(ic) input channels) breaks \(rule)"
        }
    }
}
