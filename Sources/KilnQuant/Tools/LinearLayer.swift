import KilnCore
import KilnIR
import KilnKernels
import KilnPasses

/// A `Conv` or `Gemm` node with a constant float weight, seen the way the accuracy tools
/// see it: output channels (each a linear function of the layer's input) and input channels.
///
/// - `Conv`: `W` is `[M, C/group, k…]`; output channel `o` is `W[o]`; input channel `c`
///   meets the weights `W[o, c mod C/group, …]` of the output channels `o` of its group.
/// - `Gemm` (`alpha · op(A) · op(B) + beta · C`, `op(A)` the layer's input): output
///   channel `j` is column `j` of `op(B)` (a column of `W`, or a row with `transB`); input
///   channel `k` is row `k` of `op(B)`.
struct LinearLayer {
    enum Kind {
        case conv(group: Int)
        case gemm(transA: Bool, transB: Bool, alpha: Double, beta: Double)
    }

    /// The node's index in the graph.
    let node: NodeID
    let kind: Kind
    let weight: ValueID
    /// The bias (`Conv` input 2, `Gemm` `C`), when present.
    let bias: ValueID?
    /// `M`: the layer's output channels.
    let outputChannels: Int
    /// `C` (`Conv`) or `K` (`Gemm`): the channels of the layer's input.
    let inputChannels: Int
    /// Weights of one output channel that one group's input sees: `C/group · k…` or `K`.
    let depth: Int
    let weightShape: [Int]

    /// The layer `node` is, when it is a `Conv` or `Gemm` whose weight is a float32/float64
    /// constant (an initializer that is not also a graph input).
    init?(_ id: NodeID, in view: RewriteView) {
        let node = view.graph.nodes[id.index]
        guard let weightID = node.input(1), node.input(0) != nil, let weight = view.constant(weightID),
            weight.dtype == .float32 || weight.dtype == .float64, node.outputs.count == 1, node.outputs[0] != nil
        else { return nil }
        self.node = id
        self.weight = weightID
        bias = node.input(2)
        weightShape = weight.shape
        switch node.op {
        case .conv:
            guard weight.rank >= 3, let group = try? node.attributes.int("group", default: 1), group >= 1,
                weight.shape[0] % group == 0
            else { return nil }
            kind = .conv(group: group)
            outputChannels = weight.shape[0]
            inputChannels = weight.shape[1] * group
            depth = weight.count / max(outputChannels, 1)
        case .gemm:
            guard weight.rank == 2, let transA = try? node.attributes.int("transA", default: 0),
                let transB = try? node.attributes.int("transB", default: 0),
                let alpha = try? node.attributes.float("alpha", default: 1),
                let beta = try? node.attributes.float("beta", default: 1)
            else { return nil }
            kind = .gemm(transA: transA != 0, transB: transB != 0, alpha: Double(alpha), beta: Double(beta))
            outputChannels = weight.shape[transB != 0 ? 0 : 1]
            inputChannels = weight.shape[transB != 0 ? 1 : 0]
            depth = inputChannels
        default:
            return nil
        }
    }

    /// Every layer of the graph, in node order.
    static func all(in view: RewriteView) -> [LinearLayer] {
        view.graph.nodes.indices.compactMap { LinearLayer(NodeID($0), in: view) }
    }

    /// Groups (1 for `Gemm`).
    var group: Int {
        if case .conv(let group) = kind { return group }
        return 1
    }

    /// The output channel weight element `index` belongs to.
    func outputChannel(ofWeight index: Int) -> Int {
        switch kind {
        case .conv: index / depth
        case .gemm(_, let transB, _, _): transB ? index / inputChannels : index % outputChannels
        }
    }

    /// The input channel weight element `index` multiplies.
    func inputChannel(ofWeight index: Int) -> Int {
        switch kind {
        case .conv(let group):
            let perGroupIn = inputChannels / group
            let perGroupOut = outputChannels / group
            let output = index / depth
            let inGroup = (index / (depth / perGroupIn)) % perGroupIn
            return (output / perGroupOut) * perGroupIn + inGroup
        case .gemm(_, let transB, _, _):
            return transB ? index % inputChannels : index / outputChannels
        }
    }

    /// The weight element of output channel `output` at row `row` of its group's column
    /// matrix (`row` in `0..<depth`, ordered as ``Im2Col`` orders rows: input channel of
    /// the group, then kernel taps).
    func weightIndex(output: Int, row: Int) -> Int {
        switch kind {
        case .conv: output * depth + row
        case .gemm(_, let transB, _, _): transB ? output * inputChannels + row : row * outputChannels + output
        }
    }

    /// `max |w|` over each output channel.
    func outputRanges(_ weights: [Double]) -> [Double] {
        ranges(weights, channels: outputChannels, channel: outputChannel(ofWeight:))
    }

    /// `max |w|` over each input channel.
    func inputRanges(_ weights: [Double]) -> [Double] {
        ranges(weights, channels: inputChannels, channel: inputChannel(ofWeight:))
    }

    private func ranges(_ weights: [Double], channels: Int, channel: (Int) -> Int) -> [Double] {
        var ranges = [Double](repeating: 0, count: channels)
        for (index, value) in weights.enumerated() {
            ranges[channel(index)] = max(ranges[channel(index)], Swift.abs(value))
        }
        return ranges
    }

    /// The window geometry of a `Conv` on an input of `shape` (`N × C × spatial…`).
    ///
    /// - Throws: `invalidArgument`, `unsupportedAttribute` or `shapeMismatch` for
    ///   attributes the input does not fit.
    static func convGeometry(_ node: Node, input shape: [Int], weight: [Int]) throws -> WindowGeometry {
        let attributes = node.attributes
        let text = try attributes.string("auto_pad", default: "NOTSET")
        guard let autoPad = AutoPad(rawValue: text) else {
            throw KilnError(.unsupportedAttribute, "[Conv] node '\(node.name)': auto_pad '\(text)' is not supported")
        }
        return try WindowGeometry.forward(
            input: Array(shape.dropFirst(2)), kernel: try attributes.ints("kernel_shape") ?? Array(weight.dropFirst(2)),
            strides: try attributes.ints("strides"), dilations: try attributes.ints("dilations"),
            pads: try attributes.ints("pads"), autoPad: autoPad)
    }
}

extension LinearLayer {
    /// Whether the layer's node is the only reader of its weight and bias, so that the
    /// tools may change them in place (keeping their names, which the plan uses).
    func ownsParameters(in view: RewriteView) -> Bool {
        isOnlyReader(weight, view) && (bias.map { isOnlyReader($0, view) } ?? true)
    }

    /// The layer's bias as the tools edit it: in the bias tensor's own units (a `Gemm`'s
    /// `C`, which the output sees times `beta`), widened so that its last axis has one entry
    /// per output channel (element `i` belongs to channel `i mod M`). An absent bias — or
    /// a `Gemm` `C` that `beta = 0` ignores — is zeros to be created, with `beta` 1.
    struct EditableBias {
        var values: [Double]
        var shape: [Int]
        /// `beta` for a `Gemm` (the output sees `beta · C`), 1 otherwise.
        var multiplier: Double
        /// Whether the tensor exists (else it is created, and a `Gemm`'s `beta` reset).
        var exists: Bool

        /// Adds `delta[o]` to what output channel `o` sees.
        mutating func add(_ delta: [Double]) {
            let channels = shape.last ?? 1
            for index in values.indices { values[index] += delta[index % channels] / multiplier }
        }

        /// Divides output channel `o`'s entries by `divisors[o]`.
        mutating func divide(by divisors: [Double]) {
            let channels = shape.last ?? 1
            for index in values.indices { values[index] /= divisors[index % channels] }
        }
    }

    /// The bias to edit; `nil` when a present bias is not a float constant of the
    /// weight's dtype.
    func editableBias(in view: RewriteView) -> EditableBias? {
        let zeros = EditableBias(
            values: Array(repeating: 0, count: outputChannels), shape: [outputChannels], multiplier: 1, exists: false)
        var multiplier = 1.0
        if case .gemm(_, _, _, let beta) = kind {
            if beta == 0 { return zeros }
            multiplier = beta
        }
        guard let bias else { return zeros }
        guard let tensor = view.constant(bias), tensor.dtype == view.constant(weight)?.dtype, tensor.rank <= 2 else {
            return nil
        }
        let old = tensor.doubleScalars()
        if tensor.shape.last == outputChannels {
            return EditableBias(values: old, shape: tensor.shape, multiplier: multiplier, exists: true)
        }
        // Constant along columns (a scalar, [1], [N, 1]): one value per column.
        guard tensor.shape.last == 1 || tensor.rank == 0 else { return nil }
        let rows = tensor.rank == 2 ? tensor.shape[0] : 1
        return EditableBias(
            values: (0..<(rows * outputChannels)).map { old[old.count == 1 ? 0 : $0 / outputChannels] },
            shape: tensor.rank == 2 ? [rows, outputChannels] : [outputChannels], multiplier: multiplier, exists: true)
    }

    /// The graph with the layer's bias set to `bias` (created when new).
    func settingBias(_ bias: EditableBias, in graph: Graph) -> Graph? {
        guard let dtype = graph.initializers[weight]?.dtype,
            let tensor = Tensor.fromDoubles(bias.values, shape: bias.shape, dtype: dtype)
        else { return nil }
        var graph = graph
        if bias.exists, let id = self.bias {
            graph.initializers[id] = tensor
            graph[id].type = TensorType(dtype: dtype, shape: bias.shape)
            return graph
        }
        var node = graph.nodes[self.node.index]
        node.attributes["beta"] = nil
        let id = graph.addInitializer(tensor, name: node.name + "_bias")
        while node.inputs.count < 3 { node.inputs.append(nil) }
        node.inputs[2] = id
        graph.nodes[self.node.index] = node
        return graph
    }

    /// The graph with the layer's weight replaced by `values` (same shape and dtype).
    func replacingWeight(_ values: [Double], in graph: Graph) -> Graph? {
        guard let old = graph.initializers[weight],
            let tensor = Tensor.fromDoubles(values, shape: old.shape, dtype: old.dtype)
        else { return nil }
        var graph = graph
        graph.initializers[weight] = tensor
        return graph
    }

    /// Whether only this layer's node reads `id` (in one slot or several).
    private func isOnlyReader(_ id: ValueID, _ view: RewriteView) -> Bool {
        let readers = view.graph.consumers()[id.index]
        return readers.allSatisfy { $0 == node } && !view.isGraphOutput(id) && !view.isCaptured(id)
    }
}

extension Tensor {
    /// A float32 or float64 tensor of `values` (rounded once); `nil` for other dtypes.
    static func fromDoubles(_ values: [Double], shape: [Int], dtype: DType) -> Tensor? {
        switch dtype {
        case .float32: Tensor(shape: shape, scalars: values.map { Float($0) })
        case .float64: Tensor(shape: shape, scalars: values)
        default: nil
        }
    }
}
