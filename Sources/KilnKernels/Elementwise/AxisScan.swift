import KilnCore

/// Kernels that walk one axis: `ArgMax`/`ArgMin` and `CumSum`. The input is seen as
/// `[outer, extent, inner]` around the axis.
public enum AxisScanKernels {
    /// The index of the largest (`isMax`) or smallest element along `axis`, as `int64`.
    /// Ties pick the first index, or the last with `selectLastIndex`; a NaN wins over numbers.
    /// `output` holds the other axes in order.
    ///
    /// - Throws: `kernelMissing` for `bool`; `invalidArgument` for an empty axis.
    public static func argExtreme(
        _ input: Tensor, axis: Int, isMax: Bool, selectLastIndex: Bool, into output: inout Tensor
    ) throws {
        precondition(output.dtype == .int64, "argExtreme: output must be int64")
        let (outer, extent, inner) = split(input.shape, axis)
        guard extent > 0 || outer * inner == 0 else {
            throw KilnError(.invalidArgument, "\(isMax ? "ArgMax" : "ArgMin") over an empty axis")
        }
        func run<T: Comparable & TensorElement>(_ type: T.Type, isNaN: (T) -> Bool) {
            input.withUnsafeBufferPointer(as: T.self) { x in
                output.withUnsafeMutableBufferPointer(as: Int64.self) { y in
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let base = o * extent * inner + i
                            var best = 0
                            var bestValue = x[base]
                            for r in 1..<max(extent, 1) {
                                let value = x[base + r * inner]
                                if isNaN(bestValue) { break }
                                let better: Bool
                                if isNaN(value) {
                                    better = true
                                } else if selectLastIndex {
                                    better = isMax ? value >= bestValue : value <= bestValue
                                } else {
                                    better = isMax ? value > bestValue : value < bestValue
                                }
                                if better {
                                    best = r
                                    bestValue = value
                                }
                            }
                            y[o * inner + i] = Int64(best)
                        }
                    }
                }
            }
        }
        switch input.dtype {
        case .float32: run(Float.self) { $0.isNaN }
        case .float64: run(Double.self) { $0.isNaN }
        case .float16:
            let wide = try Float16Bridge.widened(input)
            try argExtreme(wide, axis: axis, isMax: isMax, selectLastIndex: selectLastIndex, into: &output)
        case .int8: run(Int8.self) { _ in false }
        case .uint8: run(UInt8.self) { _ in false }
        case .int16: run(Int16.self) { _ in false }
        case .uint16: run(UInt16.self) { _ in false }
        case .int32: run(Int32.self) { _ in false }
        case .uint32: run(UInt32.self) { _ in false }
        case .int64: run(Int64.self) { _ in false }
        case .uint64: run(UInt64.self) { _ in false }
        case .bool: throw KilnError(.kernelMissing, "\(isMax ? "ArgMax" : "ArgMin"): no bool kernel")
        }
    }

    /// Running sums along `axis` into `output` (same shape and dtype): `exclusive` leaves
    /// out the element itself, `reverse` sums from the end.
    ///
    /// - Throws: `kernelMissing` for `bool`.
    public static func cumulativeSum(
        _ input: Tensor, axis: Int, exclusive: Bool, reverse: Bool, into output: inout Tensor
    ) throws {
        let (outer, extent, inner) = split(input.shape, axis)
        func run<T: TensorElement>(_ type: T.Type, zero: T, add: (T, T) -> T) {
            input.withUnsafeBufferPointer(as: T.self) { x in
                output.withUnsafeMutableBufferPointer(as: T.self) { y in
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let base = o * extent * inner + i
                            var running = zero
                            for step in 0..<extent {
                                let r = reverse ? extent - 1 - step : step
                                let index = base + r * inner
                                if exclusive {
                                    y[index] = running
                                    running = add(running, x[index])
                                } else {
                                    running = add(running, x[index])
                                    y[index] = running
                                }
                            }
                        }
                    }
                }
            }
        }
        switch input.dtype {
        case .float32: run(Float.self, zero: 0, add: +)
        case .float64: run(Double.self, zero: 0, add: +)
        case .float16:
            var wide = Tensor(zeros: input.shape, dtype: .float32)
            try cumulativeSum(try Float16Bridge.widened(input), axis: axis, exclusive: exclusive, reverse: reverse, into: &wide)
            try CastKernels.cast(wide, into: &output)
        case .int8: run(Int8.self, zero: 0, add: &+)
        case .uint8: run(UInt8.self, zero: 0, add: &+)
        case .int16: run(Int16.self, zero: 0, add: &+)
        case .uint16: run(UInt16.self, zero: 0, add: &+)
        case .int32: run(Int32.self, zero: 0, add: &+)
        case .uint32: run(UInt32.self, zero: 0, add: &+)
        case .int64: run(Int64.self, zero: 0, add: &+)
        case .uint64: run(UInt64.self, zero: 0, add: &+)
        case .bool: throw KilnError(.kernelMissing, "CumSum: no bool kernel")
        }
    }

    /// `shape` as `[outer, shape[axis], inner]`.
    private static func split(_ shape: [Int], _ axis: Int) -> (Int, Int, Int) {
        precondition(axis >= 0 && axis < max(shape.count, 1), "AxisScanKernels: axis out of range")
        if shape.isEmpty { return (1, 1, 1) }
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        return (outer, shape[axis], inner)
    }
}
