import KilnCore
import KilnIR

extension OpImporters {
    /// Importers of the NN family: matrix products, convolution, pooling, normalization,
    /// softmax and the recurrent cells.
    static let nn: [OpImporter] = [
        // Gemm 7 made C broadcast unidirectionally (no `broadcast` attribute); 11 made C
        // optional; 9 and 13 only widened types.
        OpImporter("Gemm", .gemm, versions: [7, 9, 11, 13]),
        OpImporter("MatMul", .matMul, versions: [1, 9, 13]),
        OpImporter("Einsum", .einsum, versions: [12, 28], normalize: checkEinsum),
        OpImporter("Conv", .conv, versions: [1, 11, 22], normalize: checkWindow),
        // ConvTranspose 1 split odd SAME padding the other way round; Kiln (like
        // onnxruntime) applies the version-11 rule to every version.
        OpImporter("ConvTranspose", .convTranspose, versions: [1, 11, 22], normalize: checkWindow),
        OpImporter("MaxPool", .maxPool, versions: [1, 8, 10, 11, 12, 22], normalize: checkPool),
        OpImporter("AveragePool", .averagePool, versions: [7, 10, 11, 19, 22], normalize: checkPool),
        OpImporter("GlobalAveragePool", .globalAveragePool, versions: [1, 22]),
        OpImporter("GlobalMaxPool", .globalMaxPool, versions: [1, 22]),
        OpImporter("BatchNormalization", .batchNormalization, versions: [7, 9, 14, 15], normalize: checkBatchNormalization),
        OpImporter("InstanceNormalization", .instanceNormalization, versions: [6, 22]),
        OpImporter("LayerNormalization", .layerNormalization, versions: [17]),
        OpImporter("Softmax", .softmax, versions: [1, 11, 13], normalize: coerceSoftmaxAxis),
        OpImporter("LogSoftmax", .logSoftmax, versions: [1, 11, 13], normalize: coerceSoftmaxAxis),
        OpImporter("Hardmax", .hardmax, versions: [1, 11, 13], normalize: coerceSoftmaxAxis),
        // LSTM/GRU 14 added `layout`; 7 is the same op with layout 0.
        OpImporter("LSTM", .lstm, versions: [7, 14, 22], normalize: checkRecurrent),
        OpImporter("GRU", .gru, versions: [7, 14, 22], normalize: checkRecurrent),
    ]

    /// Opset < 13: `axis` defaults to 1 and means "flatten from here"; make both explicit.
    @Sendable static func coerceSoftmaxAxis(_ node: inout ONNXNode) throws {
        guard node.version < 13 else { return }
        node.attributes["axis"] = .int(try node.attributes.int("axis", default: 1))
        node.attributes[NNAttributes.coerceTo2D] = .int(1)
    }

    @Sendable static func checkEinsum(_ node: inout ONNXNode) throws {
        let equation = try node.attributes.string("equation", default: "")
        do {
            _ = try EinsumEquation.parse(equation)
        } catch let error as KilnError {
            throw node.error(error.code, error.message)
        }
    }

    @Sendable static func checkWindow(_ node: inout ONNXNode) throws {
        let autoPad = try node.attributes.string("auto_pad", default: "NOTSET")
        guard ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"].contains(autoPad) else {
            throw node.error(.unsupportedAttribute, "auto_pad '\(autoPad)' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
        }
    }

    @Sendable static func checkPool(_ node: inout ONNXNode) throws {
        try checkWindow(&node)
        guard try node.attributes.ints("kernel_shape") != nil else {
            throw node.error(.invalidModel, "kernel_shape is required")
        }
        let storageOrder = try node.attributes.int("storage_order", default: 0)
        guard storageOrder == 0 || storageOrder == 1 else {
            throw node.error(.unsupportedAttribute, "storage_order \(storageOrder) is not 0 or 1")
        }
    }

    /// Only inference mode: `training_mode = 1` (opset 14+), the training outputs
    /// (mean, var, saved statistics), and opset 7's `spatial = 0` are rejected.
    @Sendable static func checkBatchNormalization(_ node: inout ONNXNode) throws {
        if try node.attributes.int("training_mode", default: 0) != 0 {
            throw node.error(.unsupportedAttribute, "training_mode=1 is not supported (inference only)")
        }
        if node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
            throw node.error(.unsupportedAttribute, "training outputs (running mean/var, saved statistics) are not supported (inference only)")
        }
        if node.version < 9 {
            if try node.attributes.int("spatial", default: 1) != 1 {
                throw node.error(.unsupportedAttribute, "spatial=0 (per-activation statistics) is not supported")
            }
            node.attributes["spatial"] = nil
        }
    }

    /// Activation names the recurrent kernels implement (compared case-insensitively).
    static let recurrentActivations: Set<String> = [
        "sigmoid", "tanh", "relu", "hardsigmoid", "affine", "leakyrelu", "thresholdedrelu",
        "scaledtanh", "elu", "softsign", "softplus",
    ]

    @Sendable static func checkRecurrent(_ node: inout ONNXNode) throws {
        let direction = try node.attributes.string("direction", default: "forward")
        guard ["forward", "reverse", "bidirectional"].contains(direction) else {
            throw node.error(.unsupportedAttribute, "direction '\(direction)' is not forward, reverse or bidirectional")
        }
        if let activations = try node.attributes.strings("activations") {
            let perDirection = node.opType == "LSTM" ? 3 : 2
            let expected = perDirection * (direction == "bidirectional" ? 2 : 1)
            guard activations.count == expected else {
                throw node.error(.invalidModel, "activations lists \(activations.count) functions, expected \(expected)")
            }
            for name in activations where !recurrentActivations.contains(name.lowercased()) {
                throw node.error(.unsupportedAttribute, "activation '\(name)' is not supported")
            }
        }
        for name in ["layout", "input_forget", "linear_before_reset"] {
            let value = try node.attributes.int(name, default: 0)
            guard value == 0 || value == 1 else {
                throw node.error(.unsupportedAttribute, "\(name)=\(value) is not 0 or 1")
            }
        }
    }
}
