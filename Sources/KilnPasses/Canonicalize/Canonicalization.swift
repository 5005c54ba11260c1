import KilnIR

extension Pass {
    /// The canonicalization pipeline: after it, a model is in the form the partitioner and
    /// the DPU compiler expect — constants folded, batch norms and biases inside the
    /// convolutions, fully connected layers as `Gemm`, activations as single nodes — and
    /// computes the same outputs.
    ///
    /// ```swift
    /// let (canonical, trace) = try PassManager(Pass.canonicalization).run(model.graph)
    /// ```
    public static let canonicalization: [Pass] = [
        .foldConstants,  // shape arithmetic on static shapes, constant subexpressions
        .eliminateDeadCode,  // Identity, inference Dropout, unused nodes
        .simplifyReshapes,  // one literal reshape around each fully connected layer
        .fuseConvBias,  // conv + per-channel constant, so that a following BN sees one conv
        .foldBatchNorm,  // BN into the preceding Conv / ConvTranspose / Gemm
        .fuseConvBias,  // a per-channel constant after a folded BN
        .fuseFullyConnected,  // MatMul (+ Add) -> Gemm
        .foldPad,  // explicit Pad into Conv / pool padding
        .recognizeActivations,  // ReLU6, HardSwish, SiLU
        .eliminateDeadCode,
    ]
}
