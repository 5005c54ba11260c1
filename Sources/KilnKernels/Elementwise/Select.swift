import KilnCore

/// `Where`: picks elements of `x` where `condition` is true, of `y` elsewhere.
public enum SelectKernels {
    /// `output[i] = condition[i] ? x[i] : y[i]` with numpy broadcasting; `x`, `y` and
    /// `output` share a dtype (any), the caller allocates `output` with the broadcast shape.
    public static func select(_ condition: Tensor, _ x: Tensor, _ y: Tensor, into output: inout Tensor, threads: Int = 1) {
        precondition(condition.dtype == .bool && x.dtype == y.dtype && x.dtype == output.dtype, "Where: dtypes")
        let plan = BroadcastPlan(shapes: [condition.shape, x.shape, y.shape], output: output.shape)
        // Selection only moves bits, so one kernel per element size serves every dtype.
        func run<T>(_ type: T.Type) {
            condition.withUnsafeBufferPointer(as: Bool.self) { c in
                x.withUnsafeBytes { xBytes in
                    y.withUnsafeBytes { yBytes in
                        output.withUnsafeMutableBytes { outBytes in
                            let a = xBytes.bindMemory(to: T.self)
                            let b = yBytes.bindMemory(to: T.self)
                            let z = outBytes.bindMemory(to: T.self)
                            BinaryLoop.run(c, a, b, z, plan, threads) { $0 ? $1 : $2 }
                        }
                    }
                }
            }
        }
        switch x.dtype.byteSize {
        case 1: run(UInt8.self)
        case 2: run(UInt16.self)
        case 4: run(UInt32.self)
        default: run(UInt64.self)
        }
    }
}
