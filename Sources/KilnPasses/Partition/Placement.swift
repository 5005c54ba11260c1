import KilnIR

/// Where a node runs: the DPU or the CPU.
public enum Device: String, Codable, Sendable, Hashable, CustomStringConvertible {
    /// The DPU (inside a `dpu_subgraph`).
    case dpu = "DPU"
    /// The CPU.
    case cpu = "CPU"

    /// `DPU` or `CPU`.
    public var description: String { rawValue }
}

/// The device annotation chose for a node, with the reason a user can act on.
///
/// A reason is a short sentence without the node's name (reports print it beside the
/// name): "kernel 17x17 exceeds the 1..16 limit", "fused into Conv 'conv1'".
public enum Placement: Hashable, Sendable, CustomStringConvertible {
    /// Runs on the DPU.
    case dpu(reason: String)
    /// Runs on the CPU.
    case cpu(reason: String)

    /// The device.
    public var device: Device {
        switch self {
        case .dpu: .dpu
        case .cpu: .cpu
        }
    }

    /// Whether the node runs on the DPU.
    public var isDPU: Bool { device == .dpu }

    /// Why.
    public var reason: String {
        switch self {
        case .dpu(let reason), .cpu(let reason): reason
        }
    }

    /// `DPU: reason` or `CPU: reason`.
    public var description: String { "\(device): \(reason)" }
}

extension OpKind {
    /// The operator's name as users know it: the ONNX op type (`Conv`, `MaxPool`, `LSTM`),
    /// or Kiln's name for the ops canonicalization and partitioning create (`ReLU6`,
    /// `SiLU`, `DPUSubgraph`).
    package var displayName: String {
        switch self {
        case .lstm: "LSTM"
        case .gru: "GRU"
        case .relu6: "ReLU6"
        case .silu: "SiLU"
        case .dpuSubgraph: "DPUSubgraph"
        default: rawValue.prefix(1).uppercased() + rawValue.dropFirst()
        }
    }
}
