import KilnCore

/// A binary arithmetic op with numpy broadcasting; the output has the operands' dtype.
public enum BinaryOp: Sendable, Hashable {
    case add, sub, mul
    /// Division; integers truncate toward zero (C semantics), x / 0 gives x.
    case div
    /// Power with both operands of one dtype (mixed dtypes: ``BinaryKernels/pow(_:_:into:threads:)``).
    case pow
    /// Remainder: with `fmod` the sign of the dividend (C `fmod`), else of the divisor (numpy `mod`).
    case mod(fmod: Bool)
    /// NaN-propagating maximum.
    case max
    /// NaN-propagating minimum.
    case min
    /// `x < 0 ? x * slope : x` with the slope as second operand.
    case pRelu
    /// Bit shifts; shifts by a negative amount or by the bit width or more fill with the sign.
    case shiftLeft, shiftRight
}

/// A comparison with numpy broadcasting; the output is `bool`.
public enum CompareOp: Sendable, Hashable {
    case equal, greater, greaterOrEqual, less, lessOrEqual
}

/// A logical op on `bool` operands with numpy broadcasting.
public enum LogicOp: Sendable, Hashable {
    case and, or, xor
}

/// Binary elementwise kernels over tensors, dispatched by dtype. The caller allocates the
/// output with the broadcast shape (see `Broadcast.shape`).
public enum BinaryKernels {
    /// `output = op(a, b)`, `a` and `b` of one dtype, `output` of that dtype.
    ///
    /// - Throws: `kernelMissing` when the op has no kernel for the dtype (e.g. shifts of floats).
    public static func arithmetic(
        _ op: BinaryOp, _ a: Tensor, _ b: Tensor, into output: inout Tensor, threads: Int = 1
    ) throws {
        precondition(a.dtype == b.dtype && a.dtype == output.dtype, "BinaryKernels: dtypes differ")
        if a.dtype == .float32, cyclicFloat(op, a, b, &output, threads) { return }
        let plan = BroadcastPlan(shapes: [a.shape, b.shape], output: output.shape)
        switch a.dtype {
        case .float32: try floating(op, Float.self, a, b, &output, plan, threads)
        case .float64: try floating(op, Double.self, a, b, &output, plan, threads)
        case .float16:
            var wide = Tensor(zeros: output.shape, dtype: .float32)
            try floating(op, Float.self, try Float16Bridge.widened(a), try Float16Bridge.widened(b), &wide, plan, threads)
            try CastKernels.cast(wide, into: &output)
        case .int8: try integer(op, Int8.self, a, b, &output, plan, threads)
        case .uint8: try integer(op, UInt8.self, a, b, &output, plan, threads)
        case .int16: try integer(op, Int16.self, a, b, &output, plan, threads)
        case .uint16: try integer(op, UInt16.self, a, b, &output, plan, threads)
        case .int32: try integer(op, Int32.self, a, b, &output, plan, threads)
        case .uint32: try integer(op, UInt32.self, a, b, &output, plan, threads)
        case .int64: try integer(op, Int64.self, a, b, &output, plan, threads)
        case .uint64: try integer(op, UInt64.self, a, b, &output, plan, threads)
        case .bool: throw KilnError(.kernelMissing, "\(op): no bool kernel")
        }
    }

    /// `output = base ^ exponent` where the dtypes may differ (ONNX `Pow`); the output has
    /// the base's dtype. Integer ^ integer is exact (wrapping); a float on either side
    /// computes in `float64` when the dtypes differ, then converts (truncating) to the base type.
    public static func pow(_ base: Tensor, _ exponent: Tensor, into output: inout Tensor, threads: Int = 1) throws {
        if base.dtype == exponent.dtype {
            return try arithmetic(.pow, base, exponent, into: &output, threads: threads)
        }
        if base.dtype.isInteger && exponent.dtype.isInteger {
            let converted = try CastKernels.casted(exponent, to: base.dtype, threads: threads)
            return try arithmetic(.pow, base, converted, into: &output, threads: threads)
        }
        let wideBase = try CastKernels.casted(base, to: .float64, threads: threads)
        let wideExponent = try CastKernels.casted(exponent, to: .float64, threads: threads)
        var wide = Tensor(zeros: output.shape, dtype: .float64)
        try arithmetic(.pow, wideBase, wideExponent, into: &wide, threads: threads)
        try CastKernels.cast(wide, into: &output, threads: threads)
    }

    /// `output = op(a, b)` as `bool`, `a` and `b` of one dtype (any, `bool` for `equal` only).
    ///
    /// - Throws: `kernelMissing` for an ordering of `bool`s.
    public static func compare(
        _ op: CompareOp, _ a: Tensor, _ b: Tensor, into output: inout Tensor, threads: Int = 1
    ) throws {
        precondition(a.dtype == b.dtype && output.dtype == .bool, "BinaryKernels.compare: dtypes")
        let plan = BroadcastPlan(shapes: [a.shape, b.shape], output: output.shape)
        switch a.dtype {
        case .float32: compare(op, Float.self, a, b, &output, plan, threads)
        case .float64: compare(op, Double.self, a, b, &output, plan, threads)
        case .float16:
            compare(op, Float.self, try Float16Bridge.widened(a), try Float16Bridge.widened(b), &output, plan, threads)
        case .int8: compare(op, Int8.self, a, b, &output, plan, threads)
        case .uint8: compare(op, UInt8.self, a, b, &output, plan, threads)
        case .int16: compare(op, Int16.self, a, b, &output, plan, threads)
        case .uint16: compare(op, UInt16.self, a, b, &output, plan, threads)
        case .int32: compare(op, Int32.self, a, b, &output, plan, threads)
        case .uint32: compare(op, UInt32.self, a, b, &output, plan, threads)
        case .int64: compare(op, Int64.self, a, b, &output, plan, threads)
        case .uint64: compare(op, UInt64.self, a, b, &output, plan, threads)
        case .bool:
            guard op == .equal else { throw KilnError(.kernelMissing, "\(op): no bool kernel") }
            let bytesA = try CastKernels.casted(a, to: .uint8)
            let bytesB = try CastKernels.casted(b, to: .uint8)
            compare(op, UInt8.self, bytesA, bytesB, &output, plan, threads)
        }
    }

    /// `output = op(a, b)` for `bool` tensors.
    public static func logic(_ op: LogicOp, _ a: Tensor, _ b: Tensor, into output: inout Tensor, threads: Int = 1) {
        precondition(a.dtype == .bool && b.dtype == .bool && output.dtype == .bool, "BinaryKernels.logic: dtypes")
        let plan = BroadcastPlan(shapes: [a.shape, b.shape], output: output.shape)
        a.withUnsafeBufferPointer(as: Bool.self) { x in
            b.withUnsafeBufferPointer(as: Bool.self) { y in
                output.withUnsafeMutableBufferPointer(as: Bool.self) { z in
                    switch op {
                    case .and: BinaryLoop.run(x, y, z, plan, threads) { $0 && $1 }
                    case .or: BinaryLoop.run(x, y, z, plan, threads) { $0 || $1 }
                    case .xor: BinaryLoop.run(x, y, z, plan, threads) { $0 != $1 }
                    }
                }
            }
        }
    }

    // MARK: Typed kernels

    /// How many leading output elements an operand covers before it repeats, when it
    /// broadcasts only by repetition: its shape, left-padded with ones, is ones and then the
    /// output's trailing extents (same shape, a scalar, a bias over the last axes).
    private static func period(_ shape: [Int], of output: [Int]) -> Int? {
        let padding = output.count - shape.count
        guard padding >= 0 else { return nil }
        // Index arithmetic on the padded shape, no padded copy: this runs on every call.
        guard let firstOwn = shape.firstIndex(where: { $0 != 1 }) else { return 1 }
        var product = 1
        for axis in (padding + firstOwn)..<output.count {
            guard shape[axis - padding] == output[axis] else { return nil }
            product *= output[axis]
        }
        return product
    }

    /// The run of output elements over which an operand of `shape` is constant, and the
    /// number of its values, when it varies only along one block of middle axes (a
    /// per-channel scale `[C, 1, 1]` against `[N, C, H, W]`): its padded shape is ones, then
    /// the output's extents, then ones.
    private static func channelRun(_ shape: [Int], of output: [Int]) -> (run: Int, values: Int)? {
        guard shape.count <= output.count else { return nil }
        let padded = [Int](repeating: 1, count: output.count - shape.count) + shape
        guard let first = padded.firstIndex(where: { $0 != 1 }), let last = padded.lastIndex(where: { $0 != 1 }),
            last < output.count - 1, padded[first...last] == output[first...last]
        else { return nil }
        return (Tensor.elementCount(Array(output[(last + 1)...])), Tensor.elementCount(Array(output[first...last])))
    }

    /// float32 add, sub, mul and div of a full-shape operand and a per-channel one
    /// (``channelRun(_:of:)``): runs of the output with one scalar each.
    private static func channelFloat(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ output: inout Tensor, _ threads: Int) -> Bool {
        let count = output.count
        let fullA = a.count == count && a.shape.drop { $0 == 1 }.elementsEqual(output.shape.drop { $0 == 1 })
        let fullB = b.count == count && b.shape.drop { $0 == 1 }.elementsEqual(output.shape.drop { $0 == 1 })
        guard fullA != fullB, let (run, values) = channelRun(fullA ? b.shape : a.shape, of: output.shape), run > 0 else {
            return false
        }
        a.withUnsafeBufferPointer(as: Float.self) { x in
            b.withUnsafeBufferPointer(as: Float.self) { y in
                output.withUnsafeMutableBufferPointer(as: Float.self) { z in
                    guard let xs = x.baseAddress, let ys = y.baseAddress, let zs = z.baseAddress else { return }
                    Parallel.forEach(count / run, threads: threads, grain: max(1, BinaryLoop.grain / run)) { runs in
                        for r in runs {
                            let start = r * run
                            let zr = zs + start
                            if fullA {
                                let (xr, v) = (xs + start, ys[r % values])
                                switch op {
                                case .add: for i in 0..<run { zr[i] = xr[i] + v }
                                case .sub: for i in 0..<run { zr[i] = xr[i] - v }
                                case .mul: for i in 0..<run { zr[i] = xr[i] * v }
                                default: for i in 0..<run { zr[i] = xr[i] / v }
                                }
                            } else {
                                let (u, yr) = (xs[r % values], ys + start)
                                switch op {
                                case .add: for i in 0..<run { zr[i] = u + yr[i] }
                                case .sub: for i in 0..<run { zr[i] = u - yr[i] }
                                case .mul: for i in 0..<run { zr[i] = u * yr[i] }
                                default: for i in 0..<run { zr[i] = u / yr[i] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return true
    }

    /// float32 add, sub, mul and div where both operands broadcast by repetition (the
    /// common cases: equal shapes, a scalar, a per-row bias), as plain vectorizable loops
    /// with no broadcast plan; `false` when it does not apply.
    private static func cyclicFloat(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ output: inout Tensor, _ threads: Int) -> Bool {
        switch op {
        case .add, .sub, .mul, .div: break
        default: return false
        }
        let count = output.count
        guard count > 0 else { return false }
        guard let periodA = period(a.shape, of: output.shape), let periodB = period(b.shape, of: output.shape) else {
            return channelFloat(op, a, b, &output, threads)
        }
        // Rows of the shorter period above one (a scalar operand just repeats its value);
        // the longer operand advances with the output. Both periods are trailing products
        // of the output's extents, so the shorter divides the longer.
        let row = [periodA, periodB].filter { $0 > 1 }.min() ?? count
        a.withUnsafeBufferPointer(as: Float.self) { x in
            b.withUnsafeBufferPointer(as: Float.self) { y in
                output.withUnsafeMutableBufferPointer(as: Float.self) { z in
                    guard let xs = x.baseAddress, let ys = y.baseAddress, let zs = z.baseAddress else { return }
                    Parallel.forEach(count / row, threads: threads, grain: max(1, BinaryLoop.grain / row)) { rows in
                        for r in rows {
                            let start = r * row
                            let xr = xs + (periodA == count ? start : start % periodA)
                            let yr = ys + (periodB == count ? start : start % periodB)
                            let zr = zs + start
                            let stepA = periodA == 1 ? 0 : 1
                            let stepB = periodB == 1 ? 0 : 1
                            switch (op, stepA, stepB) {
                            case (.add, 1, 1): for i in 0..<row { zr[i] = xr[i] + yr[i] }
                            case (.sub, 1, 1): for i in 0..<row { zr[i] = xr[i] - yr[i] }
                            case (.mul, 1, 1): for i in 0..<row { zr[i] = xr[i] * yr[i] }
                            case (.div, 1, 1): for i in 0..<row { zr[i] = xr[i] / yr[i] }
                            case (.add, 1, 0): let v = yr[0]; for i in 0..<row { zr[i] = xr[i] + v }
                            case (.sub, 1, 0): let v = yr[0]; for i in 0..<row { zr[i] = xr[i] - v }
                            case (.mul, 1, 0): let v = yr[0]; for i in 0..<row { zr[i] = xr[i] * v }
                            case (.div, 1, 0): let v = yr[0]; for i in 0..<row { zr[i] = xr[i] / v }
                            case (.add, 0, 1): let u = xr[0]; for i in 0..<row { zr[i] = u + yr[i] }
                            case (.sub, 0, 1): let u = xr[0]; for i in 0..<row { zr[i] = u - yr[i] }
                            case (.mul, 0, 1): let u = xr[0]; for i in 0..<row { zr[i] = u * yr[i] }
                            case (.div, 0, 1): let u = xr[0]; for i in 0..<row { zr[i] = u / yr[i] }
                            default:
                                for i in 0..<row {
                                    let u = xr[i * stepA]
                                    let v = yr[i * stepB]
                                    switch op {
                                    case .add: zr[i] = u + v
                                    case .sub: zr[i] = u - v
                                    case .mul: zr[i] = u * v
                                    default: zr[i] = u / v
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return true
    }

    private static func floating<T: KernelFloat>(
        _ op: BinaryOp, _ type: T.Type, _ a: Tensor, _ b: Tensor, _ output: inout Tensor,
        _ plan: BroadcastPlan, _ threads: Int
    ) throws {
        try a.withUnsafeBufferPointer(as: T.self) { x in
            try b.withUnsafeBufferPointer(as: T.self) { y in
                try output.withUnsafeMutableBufferPointer(as: T.self) { z in
                    switch op {
                    case .add: BinaryLoop.run(x, y, z, plan, threads) { $0 + $1 }
                    case .sub: BinaryLoop.run(x, y, z, plan, threads) { $0 - $1 }
                    case .mul: BinaryLoop.run(x, y, z, plan, threads) { $0 * $1 }
                    case .div: BinaryLoop.run(x, y, z, plan, threads) { $0 / $1 }
                    case .pow: BinaryLoop.run(x, y, z, plan, threads) { T.pow($0, $1) }
                    case .mod(fmod: true): BinaryLoop.run(x, y, z, plan, threads) { T.fmod($0, $1) }
                    case .mod(fmod: false): BinaryLoop.run(x, y, z, plan, threads) { floorMod($0, $1) }
                    case .max: BinaryLoop.run(x, y, z, plan, threads) { $0 >= $1 || $0.isNaN ? $0 : $1 }
                    case .min: BinaryLoop.run(x, y, z, plan, threads) { $0 <= $1 || $0.isNaN ? $0 : $1 }
                    case .pRelu: BinaryLoop.run(x, y, z, plan, threads) { $0 < 0 ? $0 * $1 : $0 }
                    case .shiftLeft, .shiftRight:
                        throw KilnError(.kernelMissing, "BitShift: no \(T.dtype) kernel")
                    }
                }
            }
        }
    }

    /// numpy's `mod` for floats: `fmod`, moved to the divisor's sign; a zero result takes
    /// the divisor's sign.
    @inline(__always)
    private static func floorMod<T: KernelFloat>(_ x: T, _ y: T) -> T {
        var remainder = T.fmod(x, y)
        if remainder != 0 {
            if (remainder < 0) != (y < 0) { remainder += y }
        } else {
            remainder = y < 0 ? -0.0 : 0.0
        }
        return remainder
    }

    private static func integer<T: FixedWidthInteger & TensorElement>(
        _ op: BinaryOp, _ type: T.Type, _ a: Tensor, _ b: Tensor, _ output: inout Tensor,
        _ plan: BroadcastPlan, _ threads: Int
    ) throws {
        a.withUnsafeBufferPointer(as: T.self) { x in
            b.withUnsafeBufferPointer(as: T.self) { y in
                output.withUnsafeMutableBufferPointer(as: T.self) { z in
                    switch op {
                    case .add: BinaryLoop.run(x, y, z, plan, threads) { $0 &+ $1 }
                    case .sub: BinaryLoop.run(x, y, z, plan, threads) { $0 &- $1 }
                    case .mul: BinaryLoop.run(x, y, z, plan, threads) { $0 &* $1 }
                    case .div: BinaryLoop.run(x, y, z, plan, threads) { $0.dividedReportingOverflow(by: $1).partialValue }
                    case .pow: BinaryLoop.run(x, y, z, plan, threads) { integerPower($0, $1) }
                    case .mod(fmod: true):
                        BinaryLoop.run(x, y, z, plan, threads) { $0.remainderReportingOverflow(dividingBy: $1).partialValue }
                    case .mod(fmod: false):
                        BinaryLoop.run(x, y, z, plan, threads) { lhs, rhs in
                            let remainder = lhs.remainderReportingOverflow(dividingBy: rhs).partialValue
                            return remainder != 0 && (remainder < 0) != (rhs < 0) ? remainder &+ rhs : remainder
                        }
                    case .max: BinaryLoop.run(x, y, z, plan, threads) { Swift.max($0, $1) }
                    case .min: BinaryLoop.run(x, y, z, plan, threads) { Swift.min($0, $1) }
                    case .pRelu: BinaryLoop.run(x, y, z, plan, threads) { $0 < 0 ? $0 &* $1 : $0 }
                    case .shiftLeft: BinaryLoop.run(x, y, z, plan, threads) { shift($0, $1, left: true) }
                    case .shiftRight: BinaryLoop.run(x, y, z, plan, threads) { shift($0, $1, left: false) }
                    }
                }
            }
        }
    }

    /// `base ^ exponent` by squaring, wrapping; negative exponents give the truncated
    /// reciprocal (1 for base 1, ±1 for base -1, else 0).
    @inline(__always)
    private static func integerPower<T: FixedWidthInteger>(_ base: T, _ exponent: T) -> T {
        if exponent < 0 {
            if base == 1 { return 1 }
            if T.isSigned && base == 0 &- 1 { return exponent & 1 == 0 ? 1 : base }
            return 0
        }
        var result: T = 1
        var factor = base
        var remaining = exponent
        while remaining > 0 {
            if remaining & 1 == 1 { result = result &* factor }
            factor = factor &* factor
            remaining >>= 1
        }
        return result
    }

    /// ONNX `BitShift`: arithmetic right shift for signed types; amounts outside
    /// `0..<bitWidth` give what the sign fill alone gives.
    @inline(__always)
    private static func shift<T: FixedWidthInteger>(_ value: T, _ amount: T, left: Bool) -> T {
        guard amount >= 0, amount < T.bitWidth else {
            return !left && value < 0 ? 0 &- 1 : 0
        }
        return left ? value &<< amount : value &>> amount
    }

    private static func compare<T: Comparable & TensorElement>(
        _ op: CompareOp, _ type: T.Type, _ a: Tensor, _ b: Tensor, _ output: inout Tensor,
        _ plan: BroadcastPlan, _ threads: Int
    ) {
        a.withUnsafeBufferPointer(as: T.self) { x in
            b.withUnsafeBufferPointer(as: T.self) { y in
                output.withUnsafeMutableBufferPointer(as: Bool.self) { z in
                    switch op {
                    case .equal: BinaryLoop.run(x, y, z, plan, threads) { $0 == $1 }
                    case .greater: BinaryLoop.run(x, y, z, plan, threads) { $0 > $1 }
                    case .greaterOrEqual: BinaryLoop.run(x, y, z, plan, threads) { $0 >= $1 }
                    case .less: BinaryLoop.run(x, y, z, plan, threads) { $0 < $1 }
                    case .lessOrEqual: BinaryLoop.run(x, y, z, plan, threads) { $0 <= $1 }
                    }
                }
            }
        }
    }
}
