/// Attributes the importer adds to NN-family nodes when it rewrites an old op version
/// into the newest form (ONNX attributes keep their ONNX names).
package enum NNAttributes {
    /// On Softmax, LogSoftmax and Hardmax from opsets before 13: the input is coerced to
    /// 2-D at `axis` and each row of the flattened trailing axes is normalized as one line.
    package static let coerceTo2D = "coerce_2d"
}
