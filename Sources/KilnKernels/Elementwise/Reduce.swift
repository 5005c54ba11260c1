import KilnCore

/// A reduction over a set of axes (ONNX `Reduce*`).
public enum ReduceOp: Sendable, Hashable {
    case sum, mean, max, min, prod
    /// Sum of absolute values.
    case l1
    /// Square root of the sum of squares.
    case l2
    /// Natural log of the sum.
    case logSum
    /// log(sum(e^x)), computed stably.
    case logSumExp
    /// Sum of squares.
    case sumSquare
}

/// Where a reduction reads: axes with extent 1 dropped, runs of kept or reduced axes
/// merged. When the reduced axes form one run the input is `[outer, reduce, inner]`;
/// otherwise every output element lists its reduced elements by offset.
struct ReduceLayout {
    /// Product of kept extents before the reduced run (simple layouts only).
    var outer = 1
    /// Number of elements reduced into each output element.
    var reduce = 1
    /// Product of kept extents after the reduced run (simple layouts only).
    var inner = 1
    /// For a layout with several reduced runs: the input offset of each output element's
    /// first element, and the offsets of its reduced elements relative to that.
    var general: (kept: [Int], reduced: [Int])?

    init(shape: [Int], axes: [Int]) {
        let reducedAxes = Set(axes)
        var runs: [(extent: Int, isReduced: Bool, axes: [Int])] = []
        for (axis, extent) in shape.enumerated() where extent != 1 {
            let isReduced = reducedAxes.contains(axis)
            if let last = runs.last, last.isReduced == isReduced {
                runs[runs.count - 1].extent *= extent
                runs[runs.count - 1].axes.append(axis)
            } else {
                runs.append((extent, isReduced, [axis]))
            }
        }
        reduce = axes.reduce(1) { $0 * shape[$1] }
        let reducedRuns = runs.filter(\.isReduced).count
        if reducedRuns <= 1 {
            var seenReduced = false
            for run in runs {
                if run.isReduced {
                    seenReduced = true
                } else if seenReduced {
                    inner *= run.extent
                } else {
                    outer *= run.extent
                }
            }
            return
        }
        // Several reduced runs: enumerate offsets of kept and of reduced coordinates.
        let strides = Tensor.strides(shape)
        func offsets(of selected: [Int]) -> [Int] {
            var result = [0]
            for axis in selected {
                var next: [Int] = []
                next.reserveCapacity(result.count * shape[axis])
                for base in result {
                    for index in 0..<shape[axis] { next.append(base + index * strides[axis]) }
                }
                result = next
            }
            return result
        }
        let keptAxes = shape.indices.filter { !reducedAxes.contains($0) }
        general = (offsets(of: keptAxes), offsets(of: axes.sorted()))
    }
}

/// Reduction kernels. The output holds the kept axes in order (its shape, with or without
/// kept 1s, is the caller's choice) and is allocated by the caller.
public enum ReduceKernels {
    /// Reduces `input` over `axes` (valid, non-negative, unique) into `output`.
    ///
    /// An empty reduction gives the op's identity: 0 for sums, 1 for `prod`, −∞ (or the
    /// type's minimum) for `max`, `logSum` and `logSumExp`, +∞ (or the maximum) for `min`,
    /// NaN for `mean` of floats.
    ///
    /// - Throws: `kernelMissing` for a dtype the op does not support (`bool` other than
    ///   `max`/`min`).
    public static func reduce(
        _ op: ReduceOp, _ input: Tensor, axes: [Int], into output: inout Tensor, threads: Int = 1
    ) throws {
        precondition(input.dtype == output.dtype, "ReduceKernels: dtypes differ")
        let layout = ReduceLayout(shape: input.shape, axes: axes)
        switch input.dtype {
        case .float32: floating(op, Float.self, input, &output, layout, threads)
        case .float64: floating(op, Double.self, input, &output, layout, threads)
        case .float16, .bool:
            if input.dtype == .bool && op != .max && op != .min {
                throw KilnError(.kernelMissing, "Reduce \(op): no bool kernel")
            }
            let wideType: DType = input.dtype == .bool ? .uint8 : .float32
            var wide = Tensor(zeros: output.shape, dtype: wideType)
            try reduce(op, try CastKernels.casted(input, to: wideType), axes: axes, into: &wide, threads: threads)
            try CastKernels.cast(wide, into: &output)
        case .int8: try integer(op, Int8.self, input, axes, &output, layout, threads)
        case .uint8: try integer(op, UInt8.self, input, axes, &output, layout, threads)
        case .int16: try integer(op, Int16.self, input, axes, &output, layout, threads)
        case .uint16: try integer(op, UInt16.self, input, axes, &output, layout, threads)
        case .int32: try integer(op, Int32.self, input, axes, &output, layout, threads)
        case .uint32: try integer(op, UInt32.self, input, axes, &output, layout, threads)
        case .int64: try integer(op, Int64.self, input, axes, &output, layout, threads)
        case .uint64: try integer(op, UInt64.self, input, axes, &output, layout, threads)
        }
    }

    private static func floating<T: KernelFloat>(
        _ op: ReduceOp, _ type: T.Type, _ input: Tensor, _ output: inout Tensor, _ layout: ReduceLayout,
        _ threads: Int
    ) {
        input.withUnsafeBufferPointer(as: T.self) { x in
            output.withUnsafeMutableBufferPointer(as: T.self) { y in
                guard let source = x.baseAddress, let target = y.baseAddress else { return }
                let count = T(layout.reduce)
                switch op {
                case .sum: run(source, target, layout, threads, 0, { $0 }, { $0 + $1 }, { $0 })
                case .mean: run(source, target, layout, threads, 0, { $0 }, { $0 + $1 }, { $0 / count })
                case .prod: run(source, target, layout, threads, 1, { $0 }, { $0 * $1 }, { $0 })
                case .max: run(source, target, layout, threads, -.infinity, { $0 }, { $0 >= $1 || $0.isNaN ? $0 : $1 }, { $0 })
                case .min: run(source, target, layout, threads, .infinity, { $0 }, { $0 <= $1 || $0.isNaN ? $0 : $1 }, { $0 })
                case .l1: run(source, target, layout, threads, 0, { Swift.abs($0) }, { $0 + $1 }, { $0 })
                case .l2: run(source, target, layout, threads, 0, { $0 * $0 }, { $0 + $1 }, { $0.squareRoot() })
                case .sumSquare: run(source, target, layout, threads, 0, { $0 * $0 }, { $0 + $1 }, { $0 })
                case .logSum: run(source, target, layout, threads, 0, { $0 }, { $0 + $1 }, { T.log($0) })
                case .logSumExp: logSumExp(source, target, layout, threads)
                }
            }
        }
    }

    private static func integer<T: FixedWidthInteger & CastElement>(
        _ op: ReduceOp, _ type: T.Type, _ input: Tensor, _ axes: [Int], _ output: inout Tensor,
        _ layout: ReduceLayout, _ threads: Int
    ) throws {
        switch op {
        case .mean, .l2, .logSum, .logSumExp:
            // numpy computes these in float64 and truncates back.
            var wide = Tensor(zeros: output.shape, dtype: .float64)
            try reduce(op, try CastKernels.casted(input, to: .float64), axes: axes, into: &wide, threads: threads)
            try CastKernels.cast(wide, into: &output)
            return
        default: break
        }
        input.withUnsafeBufferPointer(as: T.self) { x in
            output.withUnsafeMutableBufferPointer(as: T.self) { y in
                guard let source = x.baseAddress, let target = y.baseAddress else { return }
                switch op {
                case .sum: run(source, target, layout, threads, 0, { $0 }, { $0 &+ $1 }, { $0 })
                case .prod: run(source, target, layout, threads, 1, { $0 }, { $0 &* $1 }, { $0 })
                case .max: run(source, target, layout, threads, T.min, { $0 }, { Swift.max($0, $1) }, { $0 })
                case .min: run(source, target, layout, threads, T.max, { $0 }, { Swift.min($0, $1) }, { $0 })
                case .l1: run(source, target, layout, threads, 0, { $0 < 0 ? 0 &- $0 : $0 }, { $0 &+ $1 }, { $0 })
                case .sumSquare: run(source, target, layout, threads, 0, { $0 &* $0 }, { $0 &+ $1 }, { $0 })
                case .mean, .l2, .logSum, .logSumExp: break
                }
            }
        }
    }

    /// out = post(combine over the reduced elements of pre(x)), starting from `initial`.
    @inline(__always)
    private static func run<T>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ layout: ReduceLayout, _ threads: Int,
        _ initial: T, _ pre: (T) -> T, _ combine: (T, T) -> T, _ post: (T) -> T
    ) {
        let reduce = layout.reduce
        if case let (kept, reduced)? = layout.general {
            Parallel.forEach(kept.count, threads: threads, grain: max(1, 4096 / max(reduce, 1))) { range in
                for index in range {
                    let base = x + kept[index]
                    var accumulator = initial
                    for offset in reduced { accumulator = combine(accumulator, pre(base[offset])) }
                    y[index] = post(accumulator)
                }
            }
            return
        }
        let inner = layout.inner
        if inner == 1 {
            // Each output element reduces one contiguous run.
            Parallel.forEach(layout.outer, threads: threads, grain: max(1, 4096 / max(reduce, 1))) { range in
                for index in range {
                    // Four independent accumulators break the dependency chain; every
                    // combine here is associative and commutative (NaN-propagating max/min too).
                    let base = x + index * reduce
                    var (a0, a1, a2, a3) = (initial, initial, initial, initial)
                    var r = 0
                    while r + 4 <= reduce {
                        a0 = combine(a0, pre(base[r]))
                        a1 = combine(a1, pre(base[r + 1]))
                        a2 = combine(a2, pre(base[r + 2]))
                        a3 = combine(a3, pre(base[r + 3]))
                        r += 4
                    }
                    while r < reduce {
                        a0 = combine(a0, pre(base[r]))
                        r += 1
                    }
                    y[index] = post(combine(combine(a0, a1), combine(a2, a3)))
                }
            }
            return
        }
        // [outer, reduce, inner]: accumulate whole rows so the inner loop is contiguous.
        Parallel.forEach(layout.outer, threads: threads, grain: max(1, 4096 / max(reduce * inner, 1))) { range in
            for o in range {
                let row = y + o * inner
                for i in 0..<inner { row[i] = initial }
                for r in 0..<reduce {
                    let source = x + (o * reduce + r) * inner
                    for i in 0..<inner { row[i] = combine(row[i], pre(source[i])) }
                }
                for i in 0..<inner { row[i] = post(row[i]) }
            }
        }
    }

    /// max + log(sum(e^(x - max))) per output element; −∞ for an empty reduction.
    private static func logSumExp<T: KernelFloat>(
        _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ layout: ReduceLayout, _ threads: Int
    ) {
        let reduce = layout.reduce
        let inner = layout.inner
        let general = layout.general
        let outputCount = general?.kept.count ?? layout.outer * inner
        Parallel.forEach(outputCount, threads: threads, grain: max(1, 4096 / max(reduce, 1))) { range in
            for index in range {
                let base: UnsafePointer<T>
                let reduced: [Int]
                if case let (kept, offsets)? = general {
                    base = x + kept[index]
                    reduced = offsets
                } else {
                    base = x + (index / inner) * reduce * inner + index % inner
                    reduced = []
                }
                @inline(__always) func element(_ r: Int) -> Int { reduced.isEmpty ? r * inner : reduced[r] }
                var largest = -T.infinity
                for r in 0..<reduce { largest = Swift.max(largest, base[element(r)]) }
                guard largest.isFinite else {
                    y[index] = reduce == 0 ? -T.infinity : largest
                    continue
                }
                var sum: T = 0
                for r in 0..<reduce { sum += T.exp(base[element(r)] - largest) }
                y[index] = largest + T.log(sum)
            }
        }
    }
}
