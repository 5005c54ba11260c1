/// An activation the DPU can apply, fused into the op before it or on its own.
///
/// The DPU computes these with fixed constants, not the float definitions: LeakyReLU's
/// slope is 26/256 and hard-sigmoid multiplies by 2731/16384 instead of dividing by 6
/// (`KilnCore`'s fixed-point code is the one statement of that arithmetic).
public enum Activation: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `max(x, 0)`.
    case relu
    /// `min(max(x, 0), 6)`.
    case relu6
    /// `x < 0 ? 26/256·x : x` on the DPU (only the slope 26/256 maps; others stay on the CPU).
    case leakyReLU = "leaky_relu"
    /// `x < 0 ? α·x : x` with a learned α per channel.
    case prelu
    /// `relu6(x + 3) / 6`, computed as `relu6(x + 3) · 2731/16384`.
    case hardSigmoid = "hard_sigmoid"
    /// `x · hard_sigmoid(x)`.
    case hardSwish = "hard_swish"

    /// The name used in JSON and reasons, e.g. `leaky_relu`.
    public var description: String { rawValue }

    /// `activations` in the canonical (declaration) order, without duplicates, so that
    /// catalog entries and their JSON are deterministic.
    public static func ordered(_ activations: Set<Activation>) -> [Activation] {
        allCases.filter(activations.contains)
    }
}

/// A binary elementwise operation of the DPU's eltwise engine.
public enum EltwiseKind: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Elementwise sum.
    case add
    /// Elementwise product.
    case multiply

    /// The name used in JSON, e.g. `add`.
    public var description: String { rawValue }
}

/// An interpolation mode of `resize`.
public enum ResizeMode: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Nearest neighbour (integer scales).
    case nearest
    /// Bilinear, 4-D tensors (lowered to pad + depthwise transposed convolution).
    case bilinear
    /// Trilinear, 5-D tensors (lowered to pad + transposed conv3d).
    case trilinear

    /// The name used in JSON, e.g. `bilinear`.
    public var description: String { rawValue }
}

/// A padding mode of the DPU's `pad`.
public enum PadMode: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Constant padding with zeros (fused into the neighbouring op).
    case constantZero = "constant_zero"
    /// Symmetric (mirror including the edge) padding.
    case symmetric

    /// The name used in JSON, e.g. `constant_zero`.
    public var description: String { rawValue }
}
