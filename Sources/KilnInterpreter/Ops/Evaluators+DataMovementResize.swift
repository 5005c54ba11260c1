import Foundation
import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// DataMovement evaluators that resample or pad: Resize (and Upsample, which the
    /// importer turns into Resize) and Pad. Merged into ``dataMovement``.
    static let dataMovementResize: [OpKind: Evaluator] = [
        .resize: Resampling.resize,
        .pad: Resampling.pad,
    ]
}

private typealias Operands = DataMovementOperands

private enum Resampling {
    static func pad(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let modeName = try node.attributes.string("mode", default: "constant")
        guard let mode = PadMode(rawValue: modeName) else {
            throw KilnError(.invalidArgument, "mode '\(modeName)' is not constant, reflect, edge or wrap")
        }
        let rank = data.rank
        let requested = try Operands.ints(try context.required(inputs, 1, node), "pads")
        let axes = try (Operands.optionalInts(inputs, 3, "axes") ?? Array(0..<rank)).map {
            try Operands.axis($0, rank: rank)
        }
        guard requested.count == 2 * axes.count else {
            throw KilnError(.invalidArgument, "pads \(requested) must have 2 × \(axes.count) entries")
        }
        var pads = [Int](repeating: 0, count: 2 * rank)
        for (position, axis) in axes.enumerated() {
            pads[axis] = requested[position]
            pads[axis + rank] = requested[position + axes.count]
        }
        var shape = data.shape
        for axis in 0..<rank {
            shape[axis] = data.shape[axis] &+ pads[axis] &+ pads[axis + rank]
            guard shape[axis] >= 0 else {
                throw KilnError(.invalidArgument, "pads \(requested) crop axis \(axis) of \(data.shape) below zero")
            }
            try Operands.checkedCount(shape)
            if mode != .constant, data.shape[axis] == 0, shape[axis] > 0 {
                throw KilnError(.invalidArgument, "\(modeName) padding of an empty axis \(axis)")
            }
        }
        var constant = [UInt8](repeating: 0, count: data.dtype.byteSize)
        if inputs.count > 2, let value = inputs[2], value.count > 0 {
            constant = value.dtype == data.dtype
                ? Operands.elementBytes(value, at: 0)
                : Operands.elementBytes(value.doubleScalars()[0], as: data.dtype)
        }
        let output = try Operands.make(shape, data.dtype) { out in
            try Operands.read(data) { source in
                Pad.pad(
                    source, shape: data.shape, pads: pads, mode: mode, constant: constant,
                    elementSize: data.dtype.byteSize, into: out, threads: context.threads)
            }
        }
        return [output]
    }

    static func resize(_ node: Node, _ inputs: [Tensor?], _ context: EvalContext) throws -> [Tensor?] {
        let data = try context.required(inputs, 0, node)
        let attributes = node.attributes
        let parameters = try resizeParameters(attributes)
        let rank = data.rank
        let axes = try (attributes.ints("axes") ?? Array(0..<rank)).map { try Operands.axis($0, rank: rank) }
        var scales = [Double](repeating: 1, count: rank)
        var shape = data.shape
        if inputs.count > 3, let sizesTensor = inputs[3], sizesTensor.count > 0 {
            let sizes = try Operands.ints(sizesTensor, "sizes")
            guard sizes.count == axes.count, sizes.allSatisfy({ $0 >= 0 && $0 <= 1 << 40 }), axes.allSatisfy({ data.shape[$0] > 0 }) else {
                throw KilnError(.invalidArgument, "sizes \(sizes) do not fit \(data.shape) with axes \(axes)")
            }
            let ratios = zip(axes, sizes).map { Double($1) / Double(data.shape[$0]) }
            let policy = try attributes.string("keep_aspect_ratio_policy", default: "stretch")
            if policy == "stretch" {
                for (axis, size) in zip(axes, sizes) { shape[axis] = size }
                for (axis, ratio) in zip(axes, ratios) { scales[axis] = ratio }
            } else {
                guard let common = policy == "not_larger" ? ratios.min() : ratios.max() else {
                    throw KilnError(.invalidArgument, "keep_aspect_ratio_policy needs at least one axis")
                }
                for axis in axes {
                    scales[axis] = common
                    shape[axis] = Int((common * Double(data.shape[axis]) + 0.5).rounded(.down))
                }
            }
        } else if inputs.count > 2, let scalesTensor = inputs[2], scalesTensor.count > 0 {
            let values = scalesTensor.doubleScalars()
            guard values.count == axes.count, values.allSatisfy({ $0 > 0 && $0.isFinite && $0 < 1e6 }) else {
                throw KilnError(.invalidArgument, "scales \(values) do not fit rank \(rank) with axes \(axes)")
            }
            for (axis, scale) in zip(axes, values) {
                scales[axis] = scale
                shape[axis] = Int((Double(data.shape[axis]) * scale).rounded(.down))
            }
        } else {
            throw KilnError(.invalidArgument, "Resize needs scales or sizes")
        }
        try Operands.checkedCount(shape)
        var roi = [(start: Double, end: Double)](repeating: (0, 1), count: rank)
        if parameters.transform == .tfCropAndResize {
            guard inputs.count > 1, let roiTensor = inputs[1] else {
                throw KilnError(.invalidArgument, "tf_crop_and_resize needs roi")
            }
            let values = roiTensor.doubleScalars()
            guard values.count == 2 * axes.count else {
                throw KilnError(.invalidArgument, "roi \(values) must have 2 × \(axes.count) entries")
            }
            for (position, axis) in axes.enumerated() { roi[axis] = (values[position], values[position + axes.count]) }
        }
        let plans = (0..<rank).map { axis -> ResizeAxisPlan? in
            let isIdentity = Swift.abs(scales[axis] - 1) <= 1e-9 && shape[axis] == data.shape[axis]
                && (parameters.transform != .tfCropAndResize || (roi[axis].start == 0 && roi[axis].end == 1))
            if isIdentity { return nil }
            return Resize.plan(
                inputLength: data.shape[axis], outputLength: shape[axis], scale: scales[axis], roi: roi[axis],
                parameters: parameters)
        }
        let extrapolation = Double(try attributes.float("extrapolation_value", default: 0))
        if parameters.mode == .nearest {
            var output = context.makeOutput(0, zeros: shape, dtype: data.dtype)
            try Operands.fill(&output) { out in
                try Operands.read(data) { source in
                    Resize.nearest(
                        source, shape: data.shape, plans: plans,
                        fill: Operands.elementBytes(extrapolation, as: data.dtype),
                        elementSize: data.dtype.byteSize, into: out, threads: context.threads)
                }
            }
            return [output]
        }
        return [try interpolate(data, shape: shape, plans: plans, extrapolation: extrapolation, threads: context.threads)]
    }

    static func resizeParameters(_ attributes: Attributes) throws -> Resize.Parameters {
        func choice<T: RawRepresentable<String>>(_ name: String, _ fallback: String, _ type: T.Type) throws -> T {
            let value = try attributes.string(name, default: fallback)
            guard let result = T(rawValue: value) else {
                throw KilnError(.invalidArgument, "\(name) '\(value)' is not supported")
            }
            return result
        }
        return Resize.Parameters(
            mode: try choice("mode", "nearest", Resize.Mode.self),
            nearestRounding: try choice("nearest_mode", "round_prefer_floor", Resize.NearestRounding.self),
            transform: try choice("coordinate_transformation_mode", "half_pixel", Resize.CoordinateTransform.self),
            cubicCoefficient: Double(try attributes.float("cubic_coeff_a", default: -0.75)),
            excludeOutside: try attributes.int("exclude_outside", default: 0) != 0,
            antialias: try attributes.int("antialias", default: 0) != 0)
    }

    /// Linear or cubic resize in floating point; integer results round half to even and
    /// saturate, as the ONNX reference does.
    private static func interpolate(
        _ data: Tensor, shape: [Int], plans: [ResizeAxisPlan?], extrapolation: Double, threads: Int
    ) throws -> Tensor {
        switch data.dtype {
        case .float32:
            let result = Resize.interpolate(
                data.scalars(as: Float.self), shape: data.shape, plans: plans, extrapolationValue: Float(extrapolation),
                threads: threads)
            return Tensor(shape: shape, scalars: result)
        case .float16:
            let result = Resize.interpolate(
                data.scalars(as: Float16.self).map(Float.init), shape: data.shape, plans: plans,
                extrapolationValue: Float(extrapolation), threads: threads)
            return Tensor(shape: shape, scalars: result.map { Float16($0) })
        case .float64:
            let result = Resize.interpolate(
                data.scalars(as: Double.self), shape: data.shape, plans: plans, extrapolationValue: extrapolation,
                threads: threads)
            return Tensor(shape: shape, scalars: result)
        case .bool:
            throw KilnError(.kernelMissing, "no bool kernel for linear or cubic mode")
        default:
            let result = Resize.interpolate(
                data.doubleScalars(), shape: data.shape, plans: plans, extrapolationValue: extrapolation,
                threads: threads)
            let size = data.dtype.byteSize
            return Operands.make(shape, data.dtype) { out in
                for (index, value) in result.enumerated() {
                    Operands.elementBytes(value, as: data.dtype).withUnsafeBytes { bytes in
                        guard let base = bytes.baseAddress else { return }
                        (out + index * size).copyMemory(from: base, byteCount: size)
                    }
                }
            }
        }
    }
}
