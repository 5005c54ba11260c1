import KilnCore

/// How a sliding-window op pads its input (ONNX `auto_pad`).
package enum AutoPad: String, Sendable {
    /// Explicit `pads` (default zeros).
    case notSet = "NOTSET"
    /// Output `ceil(input / stride)`; an odd total padding puts the extra pixel at the end.
    case sameUpper = "SAME_UPPER"
    /// Output `ceil(input / stride)`; an odd total padding puts the extra pixel at the start.
    case sameLower = "SAME_LOWER"
    /// No padding.
    case valid = "VALID"
}

/// The geometry of a sliding window over the spatial axes of an `N × C × spatial…` tensor:
/// the resolved padding and output size of Conv, ConvTranspose and the pools.
package struct WindowGeometry: Sendable, Equatable {
    /// Spatial input extents.
    package var input: [Int]
    /// Kernel extents.
    package var kernel: [Int]
    /// Strides.
    package var strides: [Int]
    /// Dilations.
    package var dilations: [Int]
    /// Padding before each spatial axis.
    package var padsBegin: [Int]
    /// Padding after each spatial axis (may be negative for ConvTranspose's `output_shape`).
    package var padsEnd: [Int]
    /// Spatial output extents.
    package var output: [Int]

    /// Number of spatial axes.
    package var rank: Int { input.count }

    /// The geometry of a forward window (Conv, MaxPool, AveragePool).
    ///
    /// - Parameters:
    ///   - pads: `[begin…, end…]`, used only with `autoPad == .notSet` (default zeros).
    ///   - ceilMode: round the output size up (pools); a last window that would start in
    ///     the end padding is dropped, as ONNX specifies.
    /// - Throws: `invalidArgument` for malformed attributes, `shapeMismatch` when the
    ///   window does not fit the padded input.
    package static func forward(
        input: [Int], kernel: [Int], strides: [Int]?, dilations: [Int]?, pads: [Int]?,
        autoPad: AutoPad, ceilMode: Bool = false
    ) throws -> WindowGeometry {
        let rank = input.count
        let strides = try checked(strides, "strides", rank: rank)
        let dilations = try checked(dilations, "dilations", rank: rank)
        guard kernel.count == rank, kernel.allSatisfy({ $0 > 0 }) else {
            throw KilnError(.invalidArgument, "kernel shape \(kernel) does not fit \(rank) spatial axes")
        }
        var geometry = WindowGeometry(
            input: input, kernel: kernel, strides: strides, dilations: dilations,
            padsBegin: Array(repeating: 0, count: rank), padsEnd: Array(repeating: 0, count: rank),
            output: Array(repeating: 0, count: rank))
        for axis in 0..<rank {
            let extent = (kernel[axis] - 1) * dilations[axis] + 1
            switch autoPad {
            case .sameUpper, .sameLower:
                let output = (input[axis] + strides[axis] - 1) / strides[axis]
                let total = max(0, (output - 1) * strides[axis] + extent - input[axis])
                let small = total / 2
                geometry.padsBegin[axis] = autoPad == .sameUpper ? small : total - small
                geometry.padsEnd[axis] = total - geometry.padsBegin[axis]
                geometry.output[axis] = output
                continue
            case .notSet:
                if let pads {
                    guard pads.count == 2 * rank, pads.allSatisfy({ $0 >= 0 }) else {
                        throw KilnError(.invalidArgument, "pads \(pads) do not fit \(rank) spatial axes")
                    }
                    geometry.padsBegin[axis] = pads[axis]
                    geometry.padsEnd[axis] = pads[rank + axis]
                }
            case .valid:
                break
            }
            let span = input[axis] + geometry.padsBegin[axis] + geometry.padsEnd[axis] - extent
            guard span >= 0 else {
                throw KilnError(
                    .shapeMismatch,
                    "window of extent \(extent) does not fit padded input \(input[axis] + geometry.padsBegin[axis] + geometry.padsEnd[axis]) on spatial axis \(axis)")
            }
            var output = span / strides[axis] + 1
            if ceilMode && span % strides[axis] != 0 {
                output += 1
                // The last window must start inside the input or the begin padding.
                if (output - 1) * strides[axis] >= input[axis] + geometry.padsBegin[axis] { output -= 1 }
            }
            geometry.output[axis] = output
        }
        return geometry
    }

    /// The geometry of ConvTranspose; `input` are the spatial extents of its input and
    /// `output` of its result.
    ///
    /// - Parameters:
    ///   - outputShape: explicit output extents (spatial, or full `N, C, spatial…`); the
    ///     total padding then follows from it, split as ONNX specifies.
    ///   - outputPadding: extra extent added at the end of each axis.
    /// - Throws: `invalidArgument` for malformed attributes, `shapeMismatch` for a
    ///   non-positive output extent.
    package static func transposed(
        input: [Int], kernel: [Int], strides: [Int]?, dilations: [Int]?, pads: [Int]?,
        autoPad: AutoPad, outputPadding: [Int]?, outputShape: [Int]?
    ) throws -> WindowGeometry {
        let rank = input.count
        let strides = try checked(strides, "strides", rank: rank)
        let dilations = try checked(dilations, "dilations", rank: rank)
        let outputPadding = outputPadding ?? Array(repeating: 0, count: rank)
        guard kernel.count == rank, kernel.allSatisfy({ $0 > 0 }), outputPadding.count == rank else {
            throw KilnError(.invalidArgument, "kernel shape \(kernel) or output_padding \(outputPadding) does not fit \(rank) spatial axes")
        }
        var requested = outputShape
        if let shape = requested, shape.count == rank + 2 { requested = Array(shape.dropFirst(2)) }
        if let shape = requested, shape.count != rank {
            throw KilnError(.invalidArgument, "output_shape \(shape) does not fit \(rank) spatial axes")
        }
        var geometry = WindowGeometry(
            input: input, kernel: kernel, strides: strides, dilations: dilations,
            padsBegin: Array(repeating: 0, count: rank), padsEnd: Array(repeating: 0, count: rank),
            output: Array(repeating: 0, count: rank))
        for axis in 0..<rank {
            let extent = (kernel[axis] - 1) * dilations[axis] + 1
            let full = strides[axis] * (input[axis] - 1) + outputPadding[axis] + extent
            if requested != nil || autoPad == .sameUpper || autoPad == .sameLower {
                let output = requested?[axis] ?? input[axis] * strides[axis]
                let total = full - output
                let half = floorDivide(total, 2)
                geometry.padsBegin[axis] = autoPad == .sameUpper ? half : total - half
                geometry.padsEnd[axis] = total - geometry.padsBegin[axis]
                geometry.output[axis] = output
            } else {
                if autoPad == .notSet, let pads {
                    guard pads.count == 2 * rank, pads.allSatisfy({ $0 >= 0 }) else {
                        throw KilnError(.invalidArgument, "pads \(pads) do not fit \(rank) spatial axes")
                    }
                    geometry.padsBegin[axis] = pads[axis]
                    geometry.padsEnd[axis] = pads[rank + axis]
                }
                geometry.output[axis] = full - geometry.padsBegin[axis] - geometry.padsEnd[axis]
            }
            guard geometry.output[axis] > 0 else {
                throw KilnError(.shapeMismatch, "ConvTranspose output extent \(geometry.output[axis]) on spatial axis \(axis) is not positive")
            }
        }
        return geometry
    }

    private static func checked(_ values: [Int]?, _ name: String, rank: Int) throws -> [Int] {
        guard let values else { return Array(repeating: 1, count: rank) }
        guard values.count == rank, values.allSatisfy({ $0 > 0 }) else {
            throw KilnError(.invalidArgument, "\(name) \(values) must be \(rank) positive values")
        }
        return values
    }

    private static func floorDivide(_ value: Int, _ divisor: Int) -> Int {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }

    /// The geometry with leading unit axes so that it has exactly three spatial axes (the
    /// form the kernels loop over).
    ///
    /// - Precondition: `rank <= 3`.
    var padded3D: WindowGeometry {
        precondition(rank <= 3, "WindowGeometry.padded3D: \(rank) spatial axes")
        let missing = 3 - rank
        func ones(_ values: [Int], _ fill: Int) -> [Int] { Array(repeating: fill, count: missing) + values }
        return WindowGeometry(
            input: ones(input, 1), kernel: ones(kernel, 1), strides: ones(strides, 1),
            dilations: ones(dilations, 1), padsBegin: ones(padsBegin, 0), padsEnd: ones(padsEnd, 0),
            output: ones(output, 1))
    }
}
