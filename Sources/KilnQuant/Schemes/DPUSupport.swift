import Foundation
import KilnCore
import KilnIR
import KilnPasses

/// What the DPU scheme does with a node: which integer pipeline computes it, or how its
/// output relates to its input when it only moves data.
enum DPURole: Equatable {
    /// A layer with an integer pipeline.
    case layer(LayerQuantization.Kind)
    /// ReLU, ReLU6 or LeakyReLU: fused into the producing conv / gemm / add when possible,
    /// an `activation` layer otherwise.
    case activation(LayerQuantization.Activation)
    /// Data movement: the outputs hold input values unchanged, so they share the input's fix
    /// position (reshapes, transposes, splits and slices, max-pool, nearest resize, zero padding).
    case passThrough
    /// Concatenation: every input shares the output's fix position.
    case concat
}

/// Which nodes the DPU scheme quantizes, and how. Until the partitioner decides per target,
/// every node the DPU can compute (by the rules below) counts as a DPU node.
enum DPUSupport {
    /// The node's role, or `nil` when it stays a float CPU node.
    static func role(of node: Node, in view: RewriteView) -> DPURole? {
        guard let data = node.input(0), isFloat32(data, view) else { return nil }
        let attributes = node.attributes
        switch node.op {
        case .conv, .convTranspose:
            return isConvolution(node, view) ? .layer(.conv) : nil
        case .gemm:
            return isFullyConnected(node, view) ? .layer(.gemm) : nil
        case .matMul:
            return isConstantMatMul(node, view) ? .layer(.gemm) : nil
        case .add, .mul:
            guard node.inputs.count == 2, let other = node.input(1), isFloat32(other, view) else { return nil }
            return .layer(node.op == .add ? .add : .mul)
        case .averagePool:
            return isDPUAveragePool(node, view) ? .layer(.averagePool) : nil
        case .globalAveragePool:
            let shape = view.type(of: data).staticShape
            return shape?.count == 4 ? .layer(.averagePool) : nil
        case .hardSigmoid:
            let alpha = (try? attributes.float("alpha", default: 0.2)) ?? 0.2
            let beta = (try? attributes.float("beta", default: 0.5)) ?? 0.5
            // Only relu6(x + 3) / 6 (the DPU's form); other slopes stay on the CPU.
            return Swift.abs(Double(alpha) - 1.0 / 6) <= 1e-6 && Swift.abs(Double(beta) - 0.5) <= 1e-6
                ? .layer(.hardSigmoid) : nil
        case .hardSwish:
            return .layer(.hardSwish)
        case .relu: return .activation(.relu)
        case .relu6: return .activation(.relu6)
        case .leakyRelu: return .activation(.leakyRelu)
        case .concat:
            // Constant inputs stay with the CPU: only computed values are quantized in place.
            return node.inputs.allSatisfy { $0.map { isFloat32($0, view) && view.constant($0) == nil } ?? false }
                ? .concat : nil
        case .reshape, .flatten, .transpose, .squeeze, .unsqueeze, .identity, .split, .slice:
            return view.constant(data) == nil ? .passThrough : nil
        case .maxPool:
            return view.type(of: data).shape?.count == 4 && view.constant(data) == nil ? .passThrough : nil
        case .resize:
            let isNearest = (try? attributes.string("mode", default: "nearest")) == "nearest"
            return isNearest && view.constant(data) == nil ? .passThrough : nil
        case .pad:
            let mode = (try? attributes.string("mode", default: "constant")) ?? ""
            let value = node.input(2).map { view.scalar($0) ?? .nan } ?? 0
            return mode == "constant" && value == 0 && view.constant(data) == nil ? .passThrough : nil
        default:
            return nil
        }
    }

    /// The inputs of a DPU node that carry data (the others are shapes, scales, …).
    static func dataInputs(of node: Node, role: DPURole) -> [ValueID] {
        switch role {
        case .concat, .layer(.add), .layer(.mul): return node.inputs.compactMap { $0 }
        default: return node.input(0).map { [$0] } ?? []
        }
    }

    static func isFloat32(_ id: ValueID, _ view: RewriteView) -> Bool {
        view.type(of: id).dtype == .float32
    }

    /// 2-D convolution with constant weights (and bias): plain, or depthwise (one input
    /// channel per group); transposed convolution without groups.
    private static func isConvolution(_ node: Node, _ view: RewriteView) -> Bool {
        guard let weight = view.constant(node.input(1)), weight.rank == 4, weight.dtype == .float32,
            view.type(of: node.input(0)).shape?.count == 4
        else { return false }
        if let bias = node.input(2), view.constant(bias) == nil { return false }
        let group = (try? node.attributes.int("group", default: 1)) ?? 1
        if node.op == .convTranspose { return group == 1 }
        return group == 1 || weight.shape[1] == 1
    }

    /// `Gemm(x, W, b)` with a constant `W`, a per-column constant `b`, no transposed `x` and
    /// unit `alpha` / `beta`.
    private static func isFullyConnected(_ node: Node, _ view: RewriteView) -> Bool {
        let attributes = node.attributes
        guard (try? attributes.int("transA", default: 0)) == 0,
            (try? attributes.float("alpha", default: 1)) == 1,
            let weight = view.constant(node.input(1)), weight.rank == 2, weight.dtype == .float32
        else { return false }
        let columns = (try? attributes.int("transB", default: 0)) == 1 ? weight.shape[0] : weight.shape[1]
        guard let biasID = node.input(2) else { return true }
        guard (try? attributes.float("beta", default: 1)) == 1, let bias = view.constant(biasID),
            bias.count == columns, bias.shape.last == columns
        else { return false }
        return true
    }

    /// `MatMul(x, W)` with a constant 2-D `W` (`K × N`) and `x` of rank 2 or 3: a fully
    /// connected layer over the last axis, no bias (the DPU compiler lowers it as a gemm).
    private static func isConstantMatMul(_ node: Node, _ view: RewriteView) -> Bool {
        guard node.inputs.count == 2, let weight = view.constant(node.input(1)), weight.rank == 2,
            weight.dtype == .float32, let data = node.input(0), view.constant(data) == nil,
            let rank = view.type(of: data).shape?.count, rank == 2 || rank == 3
        else { return false }
        return true
    }

    /// 2-D average pooling the DPU computes: no ceil mode or dilation, and padding only when
    /// padded zeros count (the DPU divides by the window size everywhere).
    private static func isDPUAveragePool(_ node: Node, _ view: RewriteView) -> Bool {
        let attributes = node.attributes
        guard let kernel = try? attributes.ints("kernel_shape"), kernel.count == 2,
            (try? attributes.int("ceil_mode", default: 0)) == 0,
            (try? attributes.string("auto_pad", default: "NOTSET")) == "NOTSET",
            ((try? attributes.ints("dilations")) ?? nil)?.allSatisfy({ $0 == 1 }) ?? true
        else { return false }
        let pads = ((try? attributes.ints("pads")) ?? nil) ?? []
        let includesPad = (try? attributes.int("count_include_pad", default: 0)) == 1
        return pads.allSatisfy { $0 == 0 } || includesPad
    }

    /// The kernel `(height, width)` an average-pool layer divides by.
    static func averagePoolKernel(_ node: Node, _ view: RewriteView) -> (height: Int, width: Int)? {
        if node.op == .globalAveragePool {
            guard let data = node.input(0), let shape = view.type(of: data).staticShape, shape.count == 4 else {
                return nil
            }
            return (shape[2], shape[3])
        }
        guard let kernel = (try? node.attributes.ints("kernel_shape")) ?? nil, kernel.count == 2 else { return nil }
        return (kernel[0], kernel[1])
    }
}
