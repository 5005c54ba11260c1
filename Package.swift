// swift-tools-version:6.0
// Kiln: import, partition, quantize, compile and run ONNX models for int8 DPU-class accelerators.

import PackageDescription

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kiln", targets: ["kiln"]),
        .executable(name: "kiln-microbench", targets: ["kiln-microbench"]),
        .library(name: "KilnCore", targets: ["KilnCore"]),
        .library(name: "KilnIR", targets: ["KilnIR"]),
        .library(name: "KilnONNX", targets: ["KilnONNX"]),
        .library(name: "KilnKernels", targets: ["KilnKernels"]),
        .library(name: "KilnInterpreter", targets: ["KilnInterpreter"]),
        .library(name: "KilnRuntime", targets: ["KilnRuntime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .target(
            name: "KilnCore",
            dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
        .target(name: "KilnIR", dependencies: ["KilnCore"]),
        // Generated from onnx.proto by Scripts/gen-onnx-proto.sh; its own target so that
        // edits elsewhere never recompile the 4,000 generated lines.
        .target(
            name: "KilnONNXProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["onnx.proto"]
        ),
        .target(
            name: "KilnONNX",
            dependencies: [
                "KilnIR", "KilnONNXProto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // The hot kernels in C (SGEMM, depthwise conv, exact int8 GEMM) with run-time AVX2 /
        // AVX-512 dispatch through per-function target attributes, so no unsafeFlags.
        .target(name: "CKilnKernels"),
        .target(name: "KilnKernels", dependencies: ["KilnCore", "CKilnKernels"]),
        // DESIGN.md has it depend on KilnIR for the op-support rules; the catalog needs only Core.
        .target(name: "KilnTargets", dependencies: ["KilnCore"]),
        // Passes fold constants by running the interpreter's evaluators, and annotate
        // against the target catalog (see docs/architecture.md).
        .target(name: "KilnPasses", dependencies: ["KilnIR", "KilnTargets", "KilnInterpreter"]),
        // The quantizer calibrates by running the interpreter, and reads partition results.
        // QDQ export lives here too: it needs the plan (KilnQuant) and the ONNX writer (KilnONNX, which
        // sits beside KilnIR), so the arrow points down.
        .target(
            name: "KilnQuant", dependencies: ["KilnIR", "KilnKernels", "KilnInterpreter", "KilnPasses", "KilnTargets", "KilnONNX"]
        ),
        .target(name: "KilnInterpreter", dependencies: ["KilnIR", "KilnKernels"]),
        // The DPU back end: the compiler (quantized dpu_subgraph → DPUProgram), the bit-exact
        // emulator (int8 kernels of KilnKernels) and the performance model.
        .target(name: "KilnDPU", dependencies: ["KilnIR", "KilnTargets", "KilnPasses", "KilnQuant", "KilnKernels", "KilnInterpreter"]),
        // The module tree and the `.kiln` artifact (docs/artifact-format.md); the executors
        // and the session come later.
        .target(
            name: "KilnRuntime",
            dependencies: [
                "KilnCore", "KilnIR", "KilnTargets", "KilnQuant", "KilnPasses", "KilnInterpreter", "KilnDPU", "KilnONNX",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "kiln",
            dependencies: [
                "KilnONNX", "KilnInterpreter", "KilnKernels", "KilnTargets", "KilnPasses", "KilnQuant", "KilnDPU", "KilnRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // SGEMM / conv / int8 GEMM throughput against the FMA peak; release builds only.
        .executableTarget(name: "kiln-microbench", dependencies: ["KilnKernels"]),
        // DPU emulator latency per model and thread count; release builds only.
        .executableTarget(
            name: "kiln-dpu-bench",
            dependencies: ["KilnCore", "KilnIR", "KilnONNX", "KilnPasses", "KilnQuant", "KilnTargets", "KilnDPU", "KilnTestSupport"]
        ),
        .target(
            name: "KilnTestSupport",
            dependencies: [
                "KilnCore", "KilnIR", "KilnONNX", "KilnONNXProto", "KilnInterpreter",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .testTarget(name: "KilnCoreTests", dependencies: ["KilnCore", "KilnTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "KilnIRTests", dependencies: ["KilnIR", "KilnTestSupport"]),
        .testTarget(
            name: "KilnONNXTests", dependencies: ["KilnONNX", "KilnInterpreter", "KilnPasses", "KilnTargets", "KilnTestSupport"]),
        .testTarget(name: "KilnKernelsTests", dependencies: ["KilnKernels", "KilnTestSupport"]),
        .testTarget(
            name: "KilnInterpreterTests",
            dependencies: ["KilnInterpreter", "KilnONNX", "KilnTestSupport"]
        ),
        .testTarget(
            name: "KilnConformanceTests",
            dependencies: ["KilnInterpreter", "KilnONNX", "KilnTestSupport"]
        ),
        .testTarget(name: "KilnTargetsTests", dependencies: ["KilnTargets"]),
        .testTarget(name: "KilnQuantTests", dependencies: ["KilnQuant", "KilnONNX", "KilnInterpreter", "KilnTestSupport"]),
        .testTarget(
            name: "KilnPassesTests", dependencies: ["KilnPasses", "KilnONNX", "KilnTestSupport"], exclude: ["Goldens"]),
        .testTarget(
            name: "KilnDPUTests",
            dependencies: [
                "KilnDPU", "KilnIR", "KilnPasses", "KilnONNX", "KilnTargets", "KilnTestSupport", "KilnQuant", "KilnKernels",
                "KilnInterpreter",
            ]),
        .testTarget(
            name: "KilnRuntimeTests",
            dependencies: [
                "KilnRuntime", "KilnIR", "KilnTargets", "KilnQuant", "KilnONNX", "KilnPasses", "KilnInterpreter", "KilnTestSupport",
                "KilnDPU",
            ],
            exclude: ["Goldens"]),
        .testTarget(
            name: "KilnCLITests",
            dependencies: ["kiln", "KilnTargets", "KilnRuntime", "KilnONNX", "KilnTestSupport", "KilnQuant", "KilnCore"]),
    ]
)
