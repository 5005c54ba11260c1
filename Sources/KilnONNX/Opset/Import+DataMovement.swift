import KilnCore
import KilnIR

extension OpImporters {
    /// Importers of the DataMovement family. Older op versions are rewritten into the
    /// newest form: list attributes become constant inputs, Upsample becomes Resize.
    static let dataMovement: [OpImporter] = [
        OpImporter("Reshape", .reshape, versions: [5, 13, 14, 19, 21, 23, 24, 25]),
        OpImporter("Flatten", .flatten, versions: [1, 9, 11, 13, 21, 23, 24, 25]),
        OpImporter("Squeeze", .squeeze, versions: [1, 11, 13, 21, 23, 24, 25]) { node in
            if node.version < 13 { try node.moveIntsAttributeToInput("axes", 1) }
        },
        OpImporter("Unsqueeze", .unsqueeze, versions: [1, 11, 13, 21, 23, 24, 25]) { node in
            if node.version < 13 { try node.moveIntsAttributeToInput("axes", 1) }
        },
        OpImporter("Transpose", .transpose, versions: [1, 13, 21, 23, 24, 25]),
        OpImporter("Concat", .concat, versions: [4, 11, 13]),
        OpImporter("Split", .split, versions: [2, 11, 13, 18]) { node in
            if node.version < 13 { try node.moveIntsAttributeToInput("split", 1) }
        },
        OpImporter("Slice", .slice, versions: [1, 10, 11, 13]) { node in
            guard node.version < 10 else { return }
            try node.moveIntsAttributeToInput("starts", 1)
            try node.moveIntsAttributeToInput("ends", 2)
            try node.moveIntsAttributeToInput("axes", 3)
        },
        OpImporter("Gather", .gather, versions: [1, 11, 13]),
        OpImporter("GatherElements", .gatherElements, versions: [11, 13]),
        OpImporter("GatherND", .gatherND, versions: [11, 12, 13]),
        OpImporter("ScatterND", .scatterND, versions: [11, 13, 16, 18], normalize: checkReduction),
        OpImporter("ScatterElements", .scatterElements, versions: [11, 13, 16, 18], normalize: checkReduction),
        // Deprecated Scatter is ScatterElements without reduction.
        OpImporter("Scatter", .scatterElements, versions: [9, 11]),
        OpImporter("Expand", .expand, versions: [8, 13]),
        OpImporter("Tile", .tile, versions: [6, 13]),
        OpImporter("Pad", .pad, versions: [2, 11, 13, 18, 19, 21, 23, 24, 25]) { node in
            try checkChoice(&node, "mode", ["constant", "reflect", "edge", "wrap"])
            guard node.version < 11 else { return }
            try node.moveIntsAttributeToInput("pads", 1)
            if node.attributes.has("value") {
                let value = try node.attributes.float("value", default: 0)
                node.attributes["value"] = nil
                node.setConstantInput(2, Tensor(scalar: value), suffix: "value")
            }
        },
        OpImporter("Shape", .shape, versions: [1, 13, 15, 19, 21, 23, 24, 25]),
        OpImporter("Size", .size, versions: [1, 13, 19, 21, 23, 24, 25]),
        OpImporter("ConstantOfShape", .constantOfShape, versions: [9, 20, 21, 23, 24, 25]),
        OpImporter("Range", .range, versions: [11, 27]),
        OpImporter("OneHot", .oneHot, versions: [9, 11, 28]),
        OpImporter("NonZero", .nonZero, versions: [9, 13]),
        OpImporter("DepthToSpace", .depthToSpace, versions: [1, 11, 13, 28]) { node in
            try checkChoice(&node, "mode", ["DCR", "CRD"])
        },
        OpImporter("SpaceToDepth", .spaceToDepth, versions: [1, 13, 28]) { node in
            try checkChoice(&node, "mode", ["DCR", "CRD"])
        },
        OpImporter("Trilu", .trilu, versions: [14]),
        OpImporter("TopK", .topK, versions: [1, 10, 11, 24]) { node in
            if node.version < 10 { try node.moveIntsAttributeToInput("k", 1) }
        },
        OpImporter("Resize", .resize, versions: [10, 11, 13, 18, 19], normalize: normalizeResize),
        OpImporter("Upsample", .resize, versions: [7, 9], normalize: normalizeUpsample),
    ]

    /// Rejects a string attribute outside `allowed`.
    private static func checkChoice(_ node: inout ONNXNode, _ name: String, _ allowed: Set<String>) throws {
        guard node.attributes.has(name) else { return }
        let value = try node.attributes.string(name, default: "")
        guard allowed.contains(value) else {
            throw node.error(.unsupportedAttribute, "\(name) '\(value)' is not supported (Kiln implements \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    @Sendable private static func checkReduction(_ node: inout ONNXNode) throws {
        try checkChoice(&node, "reduction", ["none", "add", "mul", "max", "min"])
    }

    /// Resize: validates the modes; opset 10 (inputs X, scales) becomes the newest form
    /// with its implied asymmetric coordinates and floor rounding.
    @Sendable private static func normalizeResize(_ node: inout ONNXNode) throws {
        if node.version < 11 {
            node.inputs = [node.inputs.first ?? "", "", node.inputs.count > 1 ? node.inputs[1] : ""]
            node.attributes["coordinate_transformation_mode"] = .string("asymmetric")
            node.attributes["nearest_mode"] = .string("floor")
        }
        try checkResizeAttributes(&node)
    }

    /// Upsample (deprecated): Resize with asymmetric coordinates and floor rounding; the
    /// opset-7 `scales` attribute becomes the scales input.
    @Sendable private static func normalizeUpsample(_ node: inout ONNXNode) throws {
        let input = node.inputs.first ?? ""
        if node.version < 9 {
            guard let scales = try node.attributes.floats("scales") else {
                throw node.error(.invalidModel, "Upsample needs a scales attribute")
            }
            node.attributes["scales"] = nil
            node.inputs = [input]
            node.setConstantInput(2, Tensor(shape: [scales.count], scalars: scales), suffix: "scales")
        } else {
            node.inputs = [input, "", node.inputs.count > 1 ? node.inputs[1] : ""]
        }
        if try node.attributes.string("mode", default: "nearest") == "bilinear" {
            node.attributes["mode"] = .string("linear")
        }
        node.attributes["coordinate_transformation_mode"] = .string("asymmetric")
        node.attributes["nearest_mode"] = .string("floor")
        try checkResizeAttributes(&node)
    }

    private static func checkResizeAttributes(_ node: inout ONNXNode) throws {
        try checkChoice(&node, "mode", ["nearest", "linear", "cubic"])
        try checkChoice(&node, "nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
        try checkChoice(
            &node, "coordinate_transformation_mode",
            [
                "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                "tf_half_pixel_for_nearest", "tf_crop_and_resize",
            ])
        try checkChoice(&node, "keep_aspect_ratio_policy", ["stretch", "not_larger", "not_smaller"])
        let isNearest = try node.attributes.string("mode", default: "nearest") == "nearest"
        if isNearest, try node.attributes.int("antialias", default: 0) != 0 {
            throw node.error(.unsupportedAttribute, "antialias is only defined for linear and cubic modes")
        }
    }
}
