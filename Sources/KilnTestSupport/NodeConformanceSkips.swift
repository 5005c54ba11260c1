/// Node-test cases of supported ops that Kiln skips on purpose. Every rule says why; a
/// rule matches case names containing its pattern (case-insensitive).
enum NodeConformanceSkips {
    struct Rule {
        let pattern: String
        let reason: String
    }

    static let rules: [Rule] = [
        // Element types Kiln does not implement (the importer rejects them with KILN-1006).
        Rule(pattern: "bfloat16", reason: "bfloat16 is not a Kiln dtype"),
        Rule(pattern: "_bf16", reason: "bfloat16 is not a Kiln dtype"),
        Rule(pattern: "float8", reason: "float8 types are not Kiln dtypes"),
        Rule(pattern: "e4m3", reason: "float8 types are not Kiln dtypes"),
        Rule(pattern: "e5m2", reason: "float8 types are not Kiln dtypes"),
        Rule(pattern: "e8m0", reason: "float8 types are not Kiln dtypes"),
        Rule(pattern: "float4e2m1", reason: "float4 is not a Kiln dtype"),
        Rule(pattern: "int4", reason: "4-bit integers are not Kiln dtypes"),
        Rule(pattern: "int2", reason: "2-bit integers are not Kiln dtypes"),
        Rule(pattern: "_string", reason: "string tensors are not supported"),
        // Values that are not tensors.
        Rule(pattern: "_opt", reason: "optional values are not supported (tensors only)"),
        Rule(pattern: "_sequence", reason: "sequence values are not supported (tensors only)"),
    ]

    /// Single cases, by exact name.
    static let cases: [String: String] = [
        // Models older than the oldest opset Kiln imports.
        "test_not_2d": "model opset 1 is older than 7",
        "test_not_3d": "model opset 1 is older than 7",
        "test_not_4d": "model opset 1 is older than 7",
        // Training-mode Dropout with a non-zero ratio draws a random mask.
        "test_training_dropout": "training-mode Dropout with ratio > 0 is random (inference only)",
        "test_training_dropout_default": "training-mode Dropout with ratio > 0 is random (inference only)",
        "test_training_dropout_default_mask": "training-mode Dropout with ratio > 0 is random (inference only)",
        "test_training_dropout_mask": "training-mode Dropout with ratio > 0 is random (inference only)",
        // BatchNormalization in training mode updates running statistics (inference only).
        "test_batchnorm_epsilon_training_mode": "BatchNormalization training mode is not supported (inference only)",
        "test_batchnorm_example_training_mode": "BatchNormalization training mode is not supported (inference only)",
    ]

    /// The reason a case is skipped, or `nil` when it runs.
    static func reason(for caseName: String) -> String? {
        if let reason = cases[caseName] { return reason }
        let name = caseName.lowercased()
        return rules.first { name.contains($0.pattern) }?.reason
    }
}
