import KilnCore
import KilnIR

extension OpImporters {
    /// Importers of the Elementwise family. Versions list every change point in force from
    /// opset 7 on; versions that only widened dtypes need no rewrite.
    static let elementwise: [OpImporter] = unaryMath + activations + binary + typeAndIdentity + reductions + quantization

    private static let unaryMath: [OpImporter] = [
        OpImporter("Abs", .abs, versions: [6, 13]),
        OpImporter("Neg", .neg, versions: [6, 13]),
        OpImporter("Ceil", .ceil, versions: [6, 13]),
        OpImporter("Floor", .floor, versions: [6, 13]),
        OpImporter("Round", .round, versions: [11, 22]),
        OpImporter("Sign", .sign, versions: [9, 13]),
        OpImporter("Sqrt", .sqrt, versions: [6, 13]),
        OpImporter("Reciprocal", .reciprocal, versions: [6, 13]),
        OpImporter("Exp", .exp, versions: [6, 13]),
        OpImporter("Log", .log, versions: [6, 13]),
        OpImporter("Erf", .erf, versions: [9, 13]),
        OpImporter("Sin", .sin, versions: [7, 22]),
        OpImporter("Cos", .cos, versions: [7, 22]),
        OpImporter("Tan", .tan, versions: [7, 22]),
        OpImporter("Asin", .asin, versions: [7, 22]),
        OpImporter("Acos", .acos, versions: [7, 22]),
        OpImporter("Atan", .atan, versions: [7, 22]),
        OpImporter("Sinh", .sinh, versions: [9, 22]),
        OpImporter("Cosh", .cosh, versions: [9, 22]),
        OpImporter("Asinh", .asinh, versions: [9, 22]),
        OpImporter("Acosh", .acosh, versions: [9, 22]),
        OpImporter("Atanh", .atanh, versions: [9, 22]),
        OpImporter("IsNaN", .isNaN, versions: [9, 13, 20]),
        OpImporter("IsInf", .isInf, versions: [10, 20]),
        OpImporter("Not", .not, versions: [1]),
    ]

    private static let activations: [OpImporter] = [
        OpImporter("Relu", .relu, versions: [6, 13, 14]),
        OpImporter("LeakyRelu", .leakyRelu, versions: [6, 16]),
        OpImporter("PRelu", .pRelu, versions: [7, 9, 16]),
        OpImporter("Elu", .elu, versions: [6, 22]),
        OpImporter("Selu", .selu, versions: [6, 22]),
        OpImporter("Celu", .celu, versions: [12, 28]),
        OpImporter("Sigmoid", .sigmoid, versions: [6, 13]),
        OpImporter("HardSigmoid", .hardSigmoid, versions: [6, 22]),
        OpImporter("HardSwish", .hardSwish, versions: [14, 22]),
        OpImporter("Tanh", .tanh, versions: [6, 13]),
        OpImporter("Softplus", .softplus, versions: [1, 22]),
        OpImporter("Softsign", .softsign, versions: [1, 22]),
        OpImporter("Gelu", .gelu, versions: [20]) { node in
            let approximate = try node.attributes.string("approximate", default: "none")
            guard approximate == "none" || approximate == "tanh" else {
                throw node.error(.unsupportedAttribute, "approximate '\(approximate)' (expected none or tanh)")
            }
        },
        OpImporter("Mish", .mish, versions: [18, 22]),
        OpImporter("ThresholdedRelu", .thresholdedRelu, versions: [10, 22]),
        // Clip-6 has min/max attributes (float types only); from 11 they are optional inputs.
        OpImporter("Clip", .clip, versions: [6, 11, 12, 13]) { node in
            guard node.version < 11 else { return }
            for (index, name) in [(1, "min"), (2, "max")] where node.attributes.has(name) {
                let bound = try node.attributes.float(name, default: 0)
                node.attributes[name] = nil
                node.setConstantInput(index, Tensor(scalar: bound), suffix: name)
            }
        },
    ]

    private static let binary: [OpImporter] = [
        OpImporter("Add", .add, versions: [7, 13, 14]),
        OpImporter("Sub", .sub, versions: [7, 13, 14]),
        OpImporter("Mul", .mul, versions: [7, 13, 14]),
        OpImporter("Div", .div, versions: [7, 13, 14]),
        OpImporter("Pow", .pow, versions: [7, 12, 13, 15]),
        OpImporter("Mod", .mod, versions: [10, 13, 28]),
        OpImporter("Max", .max, versions: [6, 8, 12, 13]),
        OpImporter("Min", .min, versions: [6, 8, 12, 13]),
        OpImporter("Mean", .mean, versions: [6, 8, 13]),
        OpImporter("Sum", .sum, versions: [6, 8, 13]),
        OpImporter("And", .and, versions: [7]),
        OpImporter("Or", .or, versions: [7]),
        OpImporter("Xor", .xor, versions: [7]),
        OpImporter("BitShift", .bitShift, versions: [11, 28]) { node in
            let direction = try node.attributes.string("direction", default: "")
            guard direction == "LEFT" || direction == "RIGHT" else {
                throw node.error(.invalidModel, "direction must be LEFT or RIGHT, got '\(direction)'")
            }
        },
        OpImporter("Equal", .equal, versions: [7, 11, 13, 19]),
        OpImporter("Greater", .greater, versions: [7, 9, 13]),
        OpImporter("GreaterOrEqual", .greaterOrEqual, versions: [12, 16]),
        OpImporter("Less", .less, versions: [7, 9, 13]),
        OpImporter("LessOrEqual", .lessOrEqual, versions: [12, 16]),
        OpImporter("Where", .where, versions: [9, 16]),
    ]

    private static let typeAndIdentity: [OpImporter] = [
        OpImporter("Cast", .cast, versions: [6, 9, 13, 19, 21, 23, 24, 25, 28]) { node in
            // `to` becomes a dtype name; `saturate` and `round_mode` only affect float8 types.
            guard let code = try node.attributes.int("to") else {
                throw node.error(.invalidModel, "missing attribute 'to'")
            }
            node.attributes["to"] = .string(try dtypeName(code, node))
        },
        // CastLike is a Cast without `to` whose target dtype is input 1's (no OpKind of its own).
        OpImporter("CastLike", .cast, versions: [15, 19, 21, 23, 24, 25]) { node in
            guard node.inputs.count == 2, !node.inputs[1].isEmpty else {
                throw node.error(.invalidModel, "CastLike needs two inputs")
            }
        },
        OpImporter("Identity", .identity, versions: [1, 13, 14, 16, 19, 21, 23, 24, 25]),
        // Dropout-7's mask has the data's dtype; from 10 on it is bool, which is what we produce.
        OpImporter("Dropout", .dropout, versions: [7, 10, 12, 13, 22]) { node in
            if node.version < 10, node.outputs.count > 1, !node.outputs[1].isEmpty {
                throw node.error(.unsupportedAttribute, "the mask output of Dropout-\(node.version) is not supported")
            }
        },
    ]

    /// Reductions: older versions' `axes` attribute becomes input 1 (ReduceSum moved it at
    /// 13, the others at 18).
    private static let reductions: [OpImporter] = {
        let ops: [(String, OpKind, Set<Int>, Int)] = [
            ("ReduceSum", .reduceSum, [1, 11, 13], 13),
            ("ReduceMean", .reduceMean, [1, 11, 13, 18], 18),
            ("ReduceMax", .reduceMax, [1, 11, 12, 13, 18, 20], 18),
            ("ReduceMin", .reduceMin, [1, 11, 12, 13, 18, 20], 18),
            ("ReduceProd", .reduceProd, [1, 11, 13, 18], 18),
            ("ReduceL1", .reduceL1, [1, 11, 13, 18], 18),
            ("ReduceL2", .reduceL2, [1, 11, 13, 18], 18),
            ("ReduceLogSum", .reduceLogSum, [1, 11, 13, 18, 28], 18),
            ("ReduceLogSumExp", .reduceLogSumExp, [1, 11, 13, 18, 28], 18),
            ("ReduceSumSquare", .reduceSumSquare, [1, 11, 13, 18], 18),
        ]
        var importers = ops.map { name, kind, versions, axesInputSince in
            OpImporter(name, kind, versions: versions) { node in
                if node.version < axesInputSince { try node.moveIntsAttributeToInput("axes", 1) }
            }
        }
        importers += [
            OpImporter("ArgMax", .argMax, versions: [1, 11, 12, 13]),
            OpImporter("ArgMin", .argMin, versions: [1, 11, 12, 13]),
            OpImporter("CumSum", .cumSum, versions: [11, 14]),
        ]
        return importers
    }()

    private static let quantization: [OpImporter] = [
        OpImporter("QuantizeLinear", .quantizeLinear, versions: [10, 13, 19, 21, 23, 24, 25, 28]) { node in
            try normalizeOutputDType(&node)
            let precision = try node.attributes.int("precision", default: 0)
            guard precision == 0 || precision == 1 else {
                throw node.error(.unsupportedAttribute, "precision \(precision) (only float32 division is implemented)")
            }
            node.attributes["precision"] = nil
        },
        OpImporter("DequantizeLinear", .dequantizeLinear, versions: [10, 13, 19, 21, 23, 24, 25, 28]) { node in
            try normalizeOutputDType(&node)
        },
    ]

    /// `output_dtype` (0 = unset) becomes a dtype name, or is removed.
    private static func normalizeOutputDType(_ node: inout ONNXNode) throws {
        let code = try node.attributes.int("output_dtype", default: 0)
        node.attributes["output_dtype"] = code == 0 ? nil : .string(try dtypeName(code, node))
    }

    /// The IR dtype name for an ONNX `TensorProto.DataType` code.
    ///
    /// - Throws: `unsupportedDType` for types Kiln has no tensors of (bfloat16, float8, int4, string).
    private static func dtypeName(_ code: Int, _ node: ONNXNode) throws -> String {
        guard let dtype = TensorProtoDecoder.dtype(onnx: Int32(truncatingIfNeeded: code)) else {
            throw node.error(
                .unsupportedDType,
                "element type \(TensorProtoDecoder.onnxTypeName(Int32(truncatingIfNeeded: code))) is not supported")
        }
        return dtype.rawValue
    }
}
