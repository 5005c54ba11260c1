import KilnIR
import KilnTargets

extension SupportRules {
    /// Data movement the DPU does in its load/save and misc engines: channel concat,
    /// resize, zero padding, strided slices and splits, reorg (space/depth), channel
    /// argmax and max, the flatten before a fully connected layer, and no-ops.
    static let dataMovement: [OpKind: SupportRule] = [
        .concat: concat,
        .resize: resize,
        .pad: pad,
        .split: split,
        .slice: slice,
        .depthToSpace: { reorg($0, reverse: true) },
        .spaceToDepth: { reorg($0, reverse: false) },
        .argMax: argMax,
        .reduceMax: reduceMax,
        .reshape: flatten, .flatten: flatten, .squeeze: flatten, .unsqueeze: flatten,
        .identity: noOp, .dropout: noOp,
    ]

    /// Concat of 4-D feature maps along channels. UG1414 gives no published limit beyond
    /// "network-specific"; other axes and constant operands stay on the CPU (Kiln's choice).
    @Sendable private static func concat(_ context: RuleContext) -> Decision {
        guard context.limits.concat else { return .cpu("Concat has no DPU engine on \(context.target.name)") }
        let inputs = context.node.inputs.compactMap { $0 }
        if inputs.contains(where: context.facts.isConstant) {
            return .cpu("Concat with a constant operand is not supported; the DPU concatenates feature maps")
        }
        let rank = context.inputShape(0)?.count ?? 0
        let axis = context.int("axis", default: 1)
        guard rank == 4, axis == 1 || axis == -3 else {
            return .cpu("Concat along axis \(axis) of \(rank)-D tensors is not supported; the DPU concatenates 4-D feature maps along channels")
        }
        return .dpu("Concat of \(inputs.count) feature maps along channels")
    }

    @Sendable private static func resize(_ context: RuleContext) -> Decision {
        guard let limits = context.limits.resize else { return .cpu("Resize has no DPU engine on \(context.target.name)") }
        let mode = context.string("mode", default: "nearest")
        let supported = limits.modes.filter { $0 != .trilinear }.map { $0 == .nearest ? "nearest" : "linear" }
        let wanted: ResizeMode? = switch mode {
        case "nearest": .nearest
        case "linear": .bilinear
        default: nil
        }
        guard let wanted, limits.modes.contains(wanted) else {
            return .cpu("Resize mode \(mode) is not supported; \(supported.joined(separator: " and ")) \(supported.count == 1 ? "is" : "are")")
        }
        guard let input = context.inputShape(0), let output = context.outputShape(), input.count == 4, output.count == 4 else {
            return .cpu("Resize of a non-4-D tensor is not supported")
        }
        guard input[0] == output[0], input[1] == output[1] else {
            return .cpu("Resize that changes batch or channels is not supported")
        }
        guard input[2] > 0, input[3] > 0, output[2] % input[2] == 0, output[3] % input[3] == 0,
            output[2] >= input[2], output[3] >= input[3]
        else {
            return .cpu("Resize \(input[2])x\(input[3]) → \(output[2])x\(output[3]) is not an integer upscale")
        }
        let scales = [output[2] / input[2], output[3] / input[3]]
        guard scales[0] == scales[1] else {
            return .cpu("Resize scales \(scales[0])x\(scales[1]) differ; the DPU scales both axes alike")
        }
        let scale = scales[0]
        let layer = LayerGeometry(inputChannels: input[1], scale: scale)
        if wanted == .nearest {
            for rule in limits.nearestConstraints where !rule.isSatisfied(by: layer) {
                return .cpu(describeViolation(rule, layer))
            }
            return .dpu("Resize nearest x\(scale)")
        }
        let transform = context.string("coordinate_transformation_mode", default: "half_pixel")
        let flags: (alignCorners: Bool, halfPixel: Bool)? = switch transform {
        case "asymmetric": (false, false)
        case "align_corners": (true, false)
        case "half_pixel", "pytorch_half_pixel": (false, true)
        default: nil
        }
        guard let flags else {
            return .cpu("Resize linear with coordinate_transformation_mode \(transform) is not supported")
        }
        let cases = limits.bilinearCases.filter { $0.alignCorners == flags.alignCorners && $0.halfPixelCenters == flags.halfPixel }
        guard cases.contains(where: { $0.scales.contains(scale) }) else {
            let allowed = cases.flatMap(\.scales)
            let hint = allowed.isEmpty ? "no scale" : "scales " + allowed.map(String.init).joined(separator: ", ")
            return .cpu("Resize linear x\(scale) with \(transform) coordinates is not supported; the DPU takes \(hint) there")
        }
        return .dpu("Resize linear x\(scale) as pad + depthwise transposed conv")
    }

    @Sendable private static func pad(_ context: RuleContext) -> Decision {
        guard let limits = context.limits.pad else { return .cpu("Pad has no DPU engine on \(context.target.name)") }
        let mode = context.string("mode", default: "constant")
        guard mode == "constant", limits.modes.contains(.constantZero) else {
            return .cpu("Pad mode \(mode) is not supported; zero (constant) padding is")
        }
        guard let input = context.inputShape(0), input.count == 4 else { return .cpu("Pad of a non-4-D tensor is not supported") }
        guard let pads = context.constantInts(1), pads.count == 8 else { return .cpu("Pad amounts are not constant") }
        if context.input(3) != nil { return .cpu("Pad with an axes input is not supported") }
        if context.input(2) != nil {
            guard let value = context.constantDoubles(2)?.first else { return .cpu("Pad value is not constant") }
            if value != 0 { return .cpu("Pad with value \(value) is not supported; only zero padding is") }
        }
        if pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
            return .cpu("Pad of the batch or channel axis is not supported")
        }
        let layer = LayerGeometry(inputChannels: input[1])
        for rule in limits.constraints where !rule.isSatisfied(by: layer) { return .cpu(describeViolation(rule, layer)) }
        return .dpu("zero Pad (fused into the next op)")
    }

    @Sendable private static func split(_ context: RuleContext) -> Decision {
        guard context.limits.stridedSlice else { return .cpu("Split has no DPU engine on \(context.target.name)") }
        let rank = context.inputShape(0)?.count ?? 0
        let axis = context.int("axis", default: 0)
        guard rank == 4, axis != 0, axis != -4 else {
            return .cpu("Split along axis \(axis) of a \(rank)-D tensor is not supported; the DPU slices 4-D feature maps off the batch axis")
        }
        return .dpu("Split as strided slices")
    }

    @Sendable private static func slice(_ context: RuleContext) -> Decision {
        guard context.limits.stridedSlice else { return .cpu("Slice has no DPU engine on \(context.target.name)") }
        guard let input = context.inputShape(0), input.count == 4 else { return .cpu("Slice of a non-4-D tensor is not supported") }
        guard let starts = context.constantInts(1), context.constantInts(2) != nil else {
            return .cpu("Slice bounds are not constant")
        }
        let axes = context.input(3) == nil ? Array(0..<starts.count) : context.constantInts(3)
        let steps = context.input(4) == nil ? Array(repeating: 1, count: starts.count) : context.constantInts(4)
        guard let axes, let steps, axes.count == steps.count else { return .cpu("Slice axes or steps are not constant") }
        for (axis, step) in zip(axes, steps) where (axis == 0 || axis == 1 || axis == -4 || axis == -3) && step != 1 {
            return .cpu("Slice with step \(step) on the \(axis == 0 || axis == -4 ? "batch" : "channel") axis is not supported; batch and channel steps must be 1")
        }
        return .dpu("Slice as a strided slice")
    }

    private static func reorg(_ context: RuleContext, reverse: Bool) -> Decision {
        let name = context.node.op.displayName
        guard let limits = context.limits.reorg else { return .cpu("\(name) has no DPU engine on \(context.target.name)") }
        guard let input = context.inputShape(0), input.count == 4 else { return .cpu("\(name) of a non-4-D tensor is not supported") }
        let block = context.int("blocksize", default: 1)
        let layer = LayerGeometry(strideWidth: block, strideHeight: block, inputChannels: input[1])
        for rule in reverse ? limits.reverse : limits.forward where !rule.isSatisfied(by: layer) {
            return .cpu(describeViolation(rule, layer))
        }
        return .dpu("\(name) (block \(block)) as a reorg")
    }

    @Sendable private static func argMax(_ context: RuleContext) -> Decision {
        guard let rules = context.limits.argmax else { return .cpu("ArgMax has no DPU engine on \(context.target.name)") }
        guard let input = context.inputShape(0), input.count == 4, [1, -3].contains(context.int("axis", default: 0)),
            context.int("keepdims", default: 1) == 1, context.int("select_last_index", default: 0) == 0
        else {
            return .cpu("ArgMax is supported only over the channels of a 4-D feature map (axis 1, keepdims)")
        }
        let layer = LayerGeometry(inputChannels: input[1])
        for rule in rules where !rule.isSatisfied(by: layer) { return .cpu(describeViolation(rule, layer)) }
        return .dpu("ArgMax over channels")
    }

    @Sendable private static func reduceMax(_ context: RuleContext) -> Decision {
        guard let rules = context.limits.reduceMax else { return .cpu("ReduceMax has no DPU engine on \(context.target.name)") }
        let axes = context.input(1) == nil ? context.ints("axes") : context.constantInts(1)
        guard let input = context.inputShape(0), input.count == 4, let axes, axes.count == 1, [1, -3].contains(axes[0]) else {
            return .cpu("ReduceMax is supported only over the channels of a 4-D feature map")
        }
        let layer = LayerGeometry(inputChannels: input[1])
        for rule in rules where !rule.isSatisfied(by: layer) { return .cpu(describeViolation(rule, layer)) }
        return .dpu("ReduceMax over channels")
    }

    /// Reshapes go to the DPU in two forms the compiler folds away: the flatten before a
    /// fully connected layer (into the layer's weights), and, for the rank ≤ 3 tensors of
    /// fully connected layers, a regrouping of rows that keeps the feature axis (the
    /// innermost one, so no data moves). Any other reshape moves data in the DPU's NHWC
    /// layout and stays on the CPU. A flatten goes back to the CPU if its layer does not
    /// run on the DPU (``revisit(_:facts:)``).
    @Sendable private static func flatten(_ context: RuleContext) -> Decision {
        let name = context.node.op.displayName
        let refusal = Decision.cpu("\(name) runs on the CPU (the DPU only folds a flatten into a fully connected layer, or a reshape that keeps the feature axis)")
        guard let input = context.inputShape(0), let output = context.outputShape(), let value = context.node.outputs.first ?? nil
        else { return refusal }
        let readers = context.facts.readers[value.index]
        let feedsFC = !readers.isEmpty && !context.facts.isGraphOutput[value.index] && readers.allSatisfy { reader in
            let node = context.facts.graph.nodes[reader]
            return (node.op == .gemm || node.op == .matMul) && node.inputs.first ?? nil == value
        }
        if output.count == 2, input.first == output.first, feedsFC {
            var decision = Decision.dpu("\(name) into the fully connected layer (folded into its weights)")
            decision.followsReaders = true
            return decision
        }
        if (1...3).contains(input.count), (1...3).contains(output.count), input.last == output.last {
            return .dpu("\(name) regroups rows and keeps the feature axis (no data moves)")
        }
        return refusal
    }

    /// A no-op goes with the node producing its input.
    @Sendable private static func noOp(_ context: RuleContext) -> Decision {
        let name = context.node.op.displayName
        guard let source = context.producer(0), context.decisions[source].placement.isDPU else {
            return .cpu("\(name) is a no-op; it stays with its input on the CPU")
        }
        return .fused(into: context.decisions[source].anchor ?? source, "\(name) is a no-op, removed on the DPU")
    }
}
