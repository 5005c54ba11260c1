import KilnCore
import KilnIR

/// How an IR node leaves as ONNX: a rule rewrites the node (named operands, ONNX op type,
/// IR attributes) into the node(s) the target opset defines. Ops without a rule are
/// written as they are: the IR keeps ONNX attribute names.
typealias ExportRule = @Sendable (_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode]

/// The export table: the inverse of ``OpImporters``, keyed by ``OpKind``.
enum OpExporters {
    /// The ONNX op type of each kind: the first importer of the kind in the importer
    /// tables (so `ScatterElements`, not the deprecated `Scatter`; `Resize`, not
    /// `Upsample`; `Cast` — `CastLike` is chosen by its rule), plus the ops ONNX lacks,
    /// which their rules replace.
    static let onnxNames: [OpKind: String] = {
        var names: [OpKind: String] = [:]
        for importer in OpImporters.elementwise + OpImporters.nn + OpImporters.dataMovement + OpImporters.control
        where names[importer.kind] == nil {
            names[importer.kind] = importer.onnxName
        }
        names[.relu6] = "Clip"
        names[.silu] = "Mul"
        names[.fusedConv] = "Conv"
        return names
    }()

    /// Rewrites `node`, an IR node of `kind`, for `scope.opset`.
    static func lower(_ node: ONNXNode, kind: OpKind, _ scope: inout ExportScope) throws -> [ONNXNode] {
        guard let rule = rules[kind] else { return [node] }
        return try rule(node, &scope)
    }

    /// Rules by kind.
    static let rules: [OpKind: ExportRule] = {
        var rules: [OpKind: ExportRule] = [
            .relu6: relu6, .silu: silu, .hardSwish: hardSwish, .fusedConv: fusedConv, .dpuSubgraph: dpuSubgraph,
            .cast: cast, .quantizeLinear: quantization, .dequantizeLinear: quantization,
            .split: split, .pad: pad, .resize: resize,
            .scatterND: scatterReduction, .scatterElements: scatterReduction,
            .batchNormalization: batchNormalization, .lstm: recurrentLayout, .gru: recurrentLayout,
            .averagePool: averagePool, .shape: shape,
            .softmax: coercedSoftmax, .logSoftmax: coercedSoftmax, .hardmax: coercedSoftmax,
        ]
        for kind in axesInputSince18 { rules[kind] = reductionAxes }
        return rules
    }()

    // MARK: Ops ONNX lacks

    /// `relu6(x)` → `Clip(x, 0, 6)`.
    @Sendable static func relu6(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        var clip = node
        clip.opType = "Clip"
        let dtype = scope.dtype(of: node.inputs[0])
        clip.inputs = [
            node.inputs[0],
            scope.addConstant(try floatScalar(0, dtype, node), base: "\(node.name)/min"),
            scope.addConstant(try floatScalar(6, dtype, node), base: "\(node.name)/max"),
        ]
        return [clip]
    }

    /// A scalar of a floating-point dtype.
    private static func floatScalar(_ value: Float, _ dtype: DType, _ node: ONNXNode) throws -> Tensor {
        switch dtype {
        case .float32: return Tensor(scalar: value)
        case .float64: return Tensor(scalar: Double(value))
        case .float16: return Tensor(scalar: Float16(value))
        default: throw node.error(.unsupportedDType, "\(node.opType) of \(dtype) (expected a floating-point type)")
        }
    }

    /// `silu(x)` → `Mul(x, Sigmoid(x))`.
    @Sendable static func silu(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        let gate = scope.names.fresh("\(node.outputs[0])/sigmoid")
        var sigmoid = node
        sigmoid.opType = "Sigmoid"
        sigmoid.name = scope.names.fresh("\(node.name)/sigmoid")
        sigmoid.outputs = [gate]
        var product = node
        product.opType = "Mul"
        product.inputs = [node.inputs[0], gate]
        return [sigmoid, product]
    }

    /// `fusedConv(X, W, B, Z)` → `Conv(X, W, B)`, then `Add(·, Z)` when there is a summand,
    /// then `Relu` (bounds 0 … ∞) or `Clip` (other bounds) when there is a clamp, then the
    /// activation (`silu` as `Mul(x, Sigmoid(x))`, `HardSwish`) when there is one.
    @Sendable static func fusedConv(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        let gate = try node.attributes.string("activation", default: "")
        guard !gate.isEmpty else { return try clampedConv(node, &scope) }
        var inner = node
        inner.attributes.values["activation"] = nil
        inner.outputs = [scope.names.fresh("\(node.outputs[0])/clamped")]
        var activation = node
        activation.attributes = Attributes()
        activation.name = scope.names.fresh("\(node.name)/\(gate)")
        activation.inputs = [inner.outputs[0]]
        switch gate {
        case "silu": return try clampedConv(inner, &scope) + silu(activation, &scope)
        case "hard_swish":
            activation.opType = "HardSwish"
            return try clampedConv(inner, &scope) + hardSwish(activation, &scope)
        default: throw node.error(.unsupportedAttribute, "fusedConv activation '\(gate)' has no ONNX form")
        }
    }

    /// A `fusedConv` without activation: `Conv`, `Add` and `Relu`/`Clip`.
    private static func clampedConv(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        let lower = try node.attributes.float("activation_min", default: -.infinity)
        let upper = try node.attributes.float("activation_max", default: .infinity)
        var attributes = node.attributes
        attributes.values["activation_min"] = nil
        attributes.values["activation_max"] = nil
        let summand = node.inputs.count > 3 && !node.inputs[3].isEmpty ? node.inputs[3] : nil
        let clamps = lower > -.infinity || upper < .infinity
        var nodes: [ONNXNode] = []
        var conv = node
        conv.opType = "Conv"
        conv.attributes = attributes
        conv.inputs = Array(node.inputs.prefix(3))
        while conv.inputs.count > 2, conv.inputs.last == "" { conv.inputs.removeLast() }
        var result = node.outputs[0]
        if summand != nil || clamps {
            result = scope.names.fresh("\(node.outputs[0])/conv")
            conv.outputs = [result]
        }
        nodes.append(conv)
        if let summand {
            var add = node
            add.opType = "Add"
            add.name = scope.names.fresh("\(node.name)/add")
            add.attributes = Attributes()
            add.inputs = [result, summand]
            result = clamps ? scope.names.fresh("\(node.outputs[0])/sum") : node.outputs[0]
            add.outputs = [result]
            nodes.append(add)
        }
        if clamps {
            var activation = node
            activation.name = scope.names.fresh("\(node.name)/activation")
            activation.attributes = Attributes()
            activation.outputs = [node.outputs[0]]
            if lower == 0 && upper == .infinity {
                activation.opType = "Relu"
                activation.inputs = [result]
            } else {
                let dtype = scope.dtype(of: node.inputs[0])
                activation.opType = "Clip"
                activation.inputs = [
                    result,
                    lower > -.infinity ? scope.addConstant(try floatScalar(lower, dtype, node), base: "\(node.name)/min") : "",
                    upper < .infinity ? scope.addConstant(try floatScalar(upper, dtype, node), base: "\(node.name)/max") : "",
                ]
                while activation.inputs.last == "" { activation.inputs.removeLast() }
            }
            nodes.append(activation)
        }
        return nodes
    }

    /// `HardSwish` from opset 14; before, `Mul(x, HardSigmoid(x; 1/6, 1/2))`.
    @Sendable static func hardSwish(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        guard scope.opset < 14 else { return [node] }
        let gate = scope.names.fresh("\(node.outputs[0])/hard_sigmoid")
        var hardSigmoid = node
        hardSigmoid.opType = "HardSigmoid"
        hardSigmoid.name = scope.names.fresh("\(node.name)/hard_sigmoid")
        hardSigmoid.outputs = [gate]
        hardSigmoid.attributes = Attributes(["alpha": .float(1 / 6), "beta": .float(0.5)])
        var product = node
        product.opType = "Mul"
        product.inputs = [node.inputs[0], gate]
        return [hardSigmoid, product]
    }

    /// Composite nodes are inlined before export; one here is a bug.
    @Sendable static func dpuSubgraph(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        throw node.error(.invalidModel, "dpu_subgraph nodes must be inlined before export")
    }

    // MARK: Attributes the IR holds as names

    /// `to` is a dtype name in the IR; `CastLike` is a cast without `to`. `saturate`
    /// (opset 19) and `round_mode` (24) only affect float8 types.
    @Sendable static func cast(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        var node = node
        if let name = try? node.attributes.string("to", default: ""), !name.isEmpty {
            node.attributes["to"] = .int(Int(try onnxCode(name, node)))
        } else if !node.attributes.has("to") {
            node.opType = "CastLike"
        }
        if scope.opset < 19 { node.attributes["saturate"] = nil }
        if scope.opset < 24 { node.attributes["round_mode"] = nil }
        return [node]
    }

    /// `output_dtype` is a dtype name in the IR. Below the opset that added it, it must
    /// agree with the zero point's type (or be float32 for dequantization) and is dropped.
    @Sendable static func quantization(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        var node = node
        let isQuantize = node.opType == "QuantizeLinear"
        if let name = try? node.attributes.string("output_dtype", default: ""), !name.isEmpty {
            let since = isQuantize ? 21 : 23
            if scope.opset >= since {
                node.attributes["output_dtype"] = .int(Int(try onnxCode(name, node)))
            } else {
                let zeroPoint = node.inputs.count > 2 && !node.inputs[2].isEmpty ? node.inputs[2] : nil
                let implied =
                    isQuantize
                    ? zeroPoint.map { scope.dtype(of: $0).rawValue } ?? DType.uint8.rawValue : DType.float32.rawValue
                guard name == implied else {
                    throw node.error(.unsupportedOpVersion, "output_dtype \(name) needs opset \(since)")
                }
                node.attributes["output_dtype"] = nil
            }
        }
        if scope.opset < 21 {
            guard try node.attributes.int("block_size", default: 0) == 0 else {
                throw node.error(.unsupportedOpVersion, "blocked quantization needs opset 21")
            }
            node.attributes["block_size"] = nil
        }
        if scope.opset < 19 { node.attributes["saturate"] = nil }
        return [node]
    }

    /// The ONNX type code of a dtype name the importer wrote.
    private static func onnxCode(_ name: String, _ node: ONNXNode) throws -> Int32 {
        guard let dtype = DType(rawValue: name) else {
            throw node.error(.invalidModel, "'\(name)' is not a dtype")
        }
        return TensorProtoEncoder.code(dtype)
    }

    // MARK: Newer forms written for older opsets

    /// Reductions whose `axes` became an input at opset 18 (ReduceSum's moved at 13).
    static let axesInputSince18: Set<OpKind> = [
        .reduceMean, .reduceMax, .reduceMin, .reduceProd, .reduceL1, .reduceL2, .reduceLogSum,
        .reduceLogSumExp, .reduceSumSquare,
    ]

    /// Below opset 18, a constant `axes` input becomes the `axes` attribute.
    @Sendable static func reductionAxes(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        guard scope.opset < 18, node.inputs.count > 1 else { return [node] }
        var node = node
        let axesName = node.inputs[1]
        node.inputs = [node.inputs[0]]
        guard !axesName.isEmpty else { return [node] }
        guard let axes = scope.constants[axesName]?.integerScalars() else {
            throw node.error(.unsupportedOpVersion, "axes computed at run time need opset 18")
        }
        node.attributes["axes"] = .ints(axes)
        return [node]
    }

    /// `num_outputs` (opset 18) becomes an equal split, or explicit sizes when the last
    /// part is shorter.
    @Sendable static func split(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        guard scope.opset < 18, let count = try node.attributes.int("num_outputs") else { return [node] }
        var node = node
        node.attributes["num_outputs"] = nil
        guard node.inputs.count < 2 || node.inputs[1].isEmpty else { return [node] }
        let axis = try node.attributes.int("axis", default: 0)
        guard let shape = scope.types[node.inputs[0]]?.staticShape, !shape.isEmpty else {
            throw node.error(.unsupportedOpVersion, "num_outputs on a tensor of unknown shape needs opset 18")
        }
        let length = shape[axis < 0 ? axis + shape.count : axis]
        guard length % count != 0 else { return [node] }
        let part = (length + count - 1) / count
        let sizes = (0..<count).map { Int64(Swift.max(0, Swift.min(part, length - $0 * part))) }
        while node.inputs.count < 2 { node.inputs.append("") }
        node.inputs[1] = scope.addConstant(Tensor(shape: [count], scalars: sizes), base: "\(node.name)/split")
        return [node]
    }

    /// `axes` (opset 18) and `wrap` mode (19).
    @Sendable static func pad(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        if scope.opset < 18, node.inputs.count > 3, !node.inputs[3].isEmpty {
            throw node.error(.unsupportedOpVersion, "Pad with axes needs opset 18")
        }
        if scope.opset < 19, try node.attributes.string("mode", default: "constant") == "wrap" {
            throw node.error(.unsupportedOpVersion, "Pad mode 'wrap' needs opset 19")
        }
        return [node]
    }

    /// `antialias`, `axes`, `keep_aspect_ratio_policy` (opset 18), `half_pixel_symmetric` (19).
    @Sendable static func resize(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        var node = node
        if scope.opset < 18 {
            guard try node.attributes.int("antialias", default: 0) == 0, !node.attributes.has("axes"),
                try node.attributes.string("keep_aspect_ratio_policy", default: "stretch") == "stretch"
            else { throw node.error(.unsupportedOpVersion, "antialias, axes and aspect-ratio policies need opset 18") }
            node.attributes["antialias"] = nil
            node.attributes["keep_aspect_ratio_policy"] = nil
        }
        if scope.opset < 19,
            try node.attributes.string("coordinate_transformation_mode", default: "half_pixel")
                == "half_pixel_symmetric"
        {
            throw node.error(.unsupportedOpVersion, "half_pixel_symmetric needs opset 19")
        }
        return [node]
    }

    /// `reduction` add/mul (opset 16), max/min (18).
    @Sendable static func scatterReduction(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        var node = node
        let reduction = try node.attributes.string("reduction", default: "none")
        let since = reduction == "none" ? 0 : (reduction == "add" || reduction == "mul") ? 16 : 18
        guard scope.opset >= since else {
            throw node.error(.unsupportedOpVersion, "reduction '\(reduction)' needs opset \(since)")
        }
        if scope.opset < 16 { node.attributes["reduction"] = nil }
        return [node]
    }

    /// `training_mode` (opset 14; always 0 in the IR).
    @Sendable static func batchNormalization(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        var node = node
        if scope.opset < 14 { node.attributes["training_mode"] = nil }
        return [node]
    }

    /// `layout` (opset 14).
    @Sendable static func recurrentLayout(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        guard scope.opset < 14 else { return [node] }
        guard try node.attributes.int("layout", default: 0) == 0 else {
            throw node.error(.unsupportedOpVersion, "layout=1 needs opset 14")
        }
        var node = node
        node.attributes["layout"] = nil
        return [node]
    }

    /// `dilations` (opset 19).
    @Sendable static func averagePool(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        guard scope.opset < 19, let dilations = try node.attributes.ints("dilations") else { return [node] }
        guard dilations.allSatisfy({ $0 == 1 }) else {
            throw node.error(.unsupportedOpVersion, "dilated AveragePool needs opset 19")
        }
        var node = node
        node.attributes["dilations"] = nil
        return [node]
    }

    /// `start`/`end` (opset 15).
    @Sendable static func shape(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        guard scope.opset < 15, node.attributes.has("start") || node.attributes.has("end") else { return [node] }
        var node = node
        if try node.attributes.int("start", default: 0) == 0, !node.attributes.has("end") {
            node.attributes["start"] = nil
            return [node]
        }
        throw node.error(.unsupportedOpVersion, "Shape with start/end needs opset 15")
    }

    /// Softmax-family nodes imported from opsets before 13 flatten at `axis`; from 13 on
    /// that is `Reshape(Softmax(Flatten(x, axis), axis: 1), Shape(x))`.
    @Sendable static func coercedSoftmax(_ node: ONNXNode, _ scope: inout ExportScope) throws -> [ONNXNode] {
        guard node.attributes.has(NNAttributes.coerceTo2D) else { return [node] }
        let axis = try node.attributes.int("axis", default: 1)
        let x = node.inputs[0]
        let flat = scope.names.fresh("\(x)/flat")
        let normalized = scope.names.fresh("\(node.outputs[0])/2d")
        let shape = scope.names.fresh("\(x)/shape")
        func make(_ opType: String, _ inputs: [String], _ output: String, _ attributes: Attributes) -> ONNXNode {
            var copy = node
            copy.opType = opType
            copy.name = scope.names.fresh("\(node.name)/\(opType.lowercased())")
            copy.inputs = inputs
            copy.outputs = [output]
            copy.attributes = attributes
            return copy
        }
        return [
            make("Flatten", [x], flat, Attributes(["axis": .int(axis)])),
            make(node.opType, [flat], normalized, Attributes(["axis": .int(1)])),
            make("Shape", [x], shape, Attributes()),
            make("Reshape", [normalized, shape], node.outputs[0], Attributes()),
        ]
    }
}
