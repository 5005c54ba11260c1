import KilnIR

extension Pass {
    /// The graph optimizations of float CPU execution, applied by the runtime when it builds
    /// an executor (onnxruntime's "all" level): constants folded, batch norms and biases
    /// folded into the convolutions, activations recognized, then each conv's residual add
    /// and clamp fused into its last write. Results equal the unoptimized graph's up to float
    /// rounding (the folded weights round differently). Regions already placed on the DPU
    /// (`dpuSubgraph` bodies) are left as they are.
    public static let cpuOptimization: [Pass] = [
        .foldConstants,
        .eliminateDeadCode,
        .fuseConvBias,
        .foldBatchNorm,
        .fuseConvBias,
        .recognizeActivations,
        .fuseConvEpilogue,
        .eliminateDeadCode,
    ]
}
