/// How a fixed-point value is rounded to an integer.
///
/// The DPU rounds activations half up (toward +∞: −2.5 → −2); weights, biases and inputs
/// are rounded by the quantizer, which Vitis AI does half to even or half away from zero
/// depending on the framework (UG1414 §"DPU fixed-point arithmetic").
public enum RoundMode: String, CaseIterable, Sendable, Codable {
    /// Half up, toward +∞ (Vitis AI `DPU_ROUND`): −2.5 → −2, 2.5 → 3.
    case halfUp = "dpu_round"
    /// Half to even (Vitis AI `PY3_ROUND`, NumPy, ONNX QuantizeLinear): 2.5 → 2, 3.5 → 4.
    case halfToEven = "py3_round"
    /// Half away from zero (Vitis AI `STD_ROUND`, C `round`): −2.5 → −3.
    case halfAwayFromZero = "std_round"

    /// Rounds a real value to an integer value.
    public func round(_ value: Double) -> Double {
        switch self {
        case .halfUp: (value + 0.5).rounded(.down)
        case .halfToEven: value.rounded(.toNearestOrEven)
        case .halfAwayFromZero: value.rounded(.toNearestOrAwayFromZero)
        }
    }
}
