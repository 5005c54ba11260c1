import KilnCore

/// Reading and building the float constants that fusion rules compute (folded weights and
/// biases). Arithmetic is done in `Double` and rounded once to the tensor's dtype.
extension Tensor {
    /// A float32 or float64 tensor of `values`; `nil` for other dtypes (fusion rules then
    /// leave the node alone).
    static func floating(shape: [Int], values: [Double], dtype: DType) -> Tensor? {
        switch dtype {
        case .float32: Tensor(shape: shape, scalars: values.map { Float($0) })
        case .float64: Tensor(shape: shape, scalars: values)
        default: nil
        }
    }

    /// Whether fusion rules can rewrite this tensor's values (float32 or float64).
    var isFoldableFloat: Bool { dtype == .float32 || dtype == .float64 }

    /// The `channels` values of a constant that broadcasts as a per-channel vector against
    /// a rank-`rank` result whose axis `axis` has `channels` entries: aligned from the
    /// right, every dimension is 1 except `axis`, which is `channels` or 1 (then the one
    /// value repeats). `nil` for any other shape, and for a non-float tensor.
    ///
    /// `[C]`, `[C, 1, 1]` and `[1, C, 1, 1]` against `[N, C, H, W]` (axis 1) qualify; so does
    /// a scalar. `[N, 1]` against `[N, M]` (axis 1) does not.
    func channelValues(channels: Int, axis: Int, rank: Int) -> [Double]? {
        guard isFoldableFloat, self.rank <= rank, count >= 1 else { return nil }
        let offset = rank - self.rank
        for (index, dim) in shape.enumerated() {
            if index + offset == axis {
                guard dim == channels || dim == 1 else { return nil }
            } else {
                guard dim == 1 else { return nil }
            }
        }
        let values = doubleScalars()
        return values.count == channels ? values : Array(repeating: values[0], count: channels)
    }
}
