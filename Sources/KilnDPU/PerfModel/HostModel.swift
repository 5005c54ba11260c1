import KilnTargets

/// The CPU-side work around a DPU frame, which published end-to-end FPS include.
///
/// A model-zoo frame is: pre-processing on the board's ARM cores (resize, mean/scale,
/// quantize into the input tensor), the DPU run, post-processing (softmax, top-k). The
/// model charges the CPU per element of the model's inputs and outputs, plus a fixed
/// conversion task for every tensor crossing between a DPU subgraph and CPU nodes inside
/// the model:
///
/// `host = secondsPerElement · (input elements + output elements)`
/// `      + transitionSeconds · (intermediate CPU↔DPU tensors)`
///
/// Zynq UltraScale+ (ZCU102, ZCU104, KV260; quad Cortex-A53): `secondsPerElement` comes
/// from the one-core KV260 of the Vitis AI 3.0 model zoo (`reference/dpu-architecture.md`
/// §2). With one DPU core, multi-threaded FPS is bound by the DPU alone (other threads do
/// their CPU work meanwhile), so ST latency − MT latency is the CPU work of one frame:
/// ResNet-50 1000/85.5 − 1000/89.3 = 0.498 ms, MobileNetV2 1000/290.0 − 1000/338.1 =
/// 0.491 ms, for 150,528 input + 1,000 output elements: 3.26 ns per element. (ResNet-18 on
/// the same board, Vitis AI 2.0, gives 0.60 ms.) `transitionSeconds` is UG1414's CPU
/// `fix2float` task, 0.083 ms (`reference/ug1414-digest.md` §9).
public struct HostModel: Codable, Sendable, Hashable {
    /// CPU time per element of the model's inputs and outputs.
    public var secondsPerElement: Double
    /// CPU time per tensor crossing between the DPU and CPU nodes inside the model.
    public var transitionSeconds: Double
    /// Where the figures come from.
    public var source: String

    /// Zynq UltraScale+ MPSoC boards (quad Cortex-A53), as derived above.
    public static let zynqUltraScalePlus = HostModel(
        secondsPerElement: 3.26e-9, transitionSeconds: 0.083e-3,
        source: "KV260 model zoo (Vitis AI 3.0) ST − MT latency: 0.494 ms per 224×224×3 frame; "
            + "UG1414 fix2float 0.083 ms")

    /// The host of `family`'s boards, when known: the DPUCZDX8G boards are Zynq
    /// UltraScale+; Versal and Alveo hosts have no published figure here.
    public static func forFamily(_ family: DPUFamily) -> HostModel? {
        family == .dpuczdx8g ? zynqUltraScalePlus : nil
    }

    /// The CPU time of a frame with `elements` input and output elements and
    /// `transitions` intermediate CPU↔DPU tensors.
    public func seconds(elements: Int, transitions: Int) -> Double {
        secondsPerElement * Double(elements) + transitionSeconds * Double(transitions)
    }
}
