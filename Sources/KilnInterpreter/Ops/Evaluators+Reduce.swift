import KilnCore
import KilnIR
import KilnKernels

extension Evaluators {
    /// Evaluators of the reductions (`Reduce*` with axes as input 1, `ArgMax`, `ArgMin`,
    /// `CumSum`); part of the Elementwise family.
    static let reductions: [OpKind: Evaluator] = {
        let ops: [OpKind: ReduceOp] = [
            .reduceSum: .sum, .reduceMean: .mean, .reduceMax: .max, .reduceMin: .min, .reduceProd: .prod,
            .reduceL1: .l1, .reduceL2: .l2, .reduceLogSum: .logSum, .reduceLogSumExp: .logSumExp,
            .reduceSumSquare: .sumSquare,
        ]
        var table: [OpKind: Evaluator] = [:]
        for (kind, op) in ops { table[kind] = reduce(op) }
        table[.argMax] = argExtreme(isMax: true)
        table[.argMin] = argExtreme(isMax: false)
        table[.cumSum] = { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            let axisTensor = try context.required(inputs, 1, node)
            guard axisTensor.count == 1, let axisValue = axisTensor.integerScalars()?.first else {
                throw KilnError(.invalidArgument, "CumSum axis must be one integer, got \(axisTensor)")
            }
            let axis = try normalizedAxis(axisValue, rank: x.rank)
            var output = context.makeOutput(0, zeros: x.shape, dtype: x.dtype)
            try AxisScanKernels.cumulativeSum(
                x, axis: axis, exclusive: try node.attributes.int("exclusive", default: 0) != 0,
                reverse: try node.attributes.int("reverse", default: 0) != 0, into: &output)
            return [output]
        }
        return table
    }()

    /// `axis` in `-rank..<rank` made non-negative.
    ///
    /// - Throws: `invalidArgument` when out of range.
    static func normalizedAxis(_ axis: Int, rank: Int) throws -> Int {
        guard axis >= -rank, axis < rank else {
            throw KilnError(.invalidArgument, "axis \(axis) is out of range for rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }

    private static func reduce(_ op: ReduceOp) -> Evaluator {
        { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            let keepDims = try node.attributes.int("keepdims", default: 1) != 0
            let noopWithEmptyAxes = try node.attributes.int("noop_with_empty_axes", default: 0) != 0
            var axes: [Int] = []
            if inputs.count > 1, let axesTensor = inputs[1] {
                guard let values = axesTensor.integerScalars() else {
                    throw KilnError(.invalidArgument, "axes must be integers, got \(axesTensor.dtype)")
                }
                axes = try Set(values.map { try normalizedAxis($0, rank: x.rank) }).sorted()
            }
            if axes.isEmpty {
                if noopWithEmptyAxes { return [x] }
                axes = Array(0..<x.rank)
            }
            let reduced = Set(axes)
            let shape = x.shape.enumerated().compactMap { axis, extent -> Int? in
                reduced.contains(axis) ? (keepDims ? 1 : nil) : extent
            }
            var output = context.makeOutput(0, zeros: shape, dtype: x.dtype)
            try ReduceKernels.reduce(op, x, axes: axes, into: &output, threads: context.threads)
            return [output]
        }
    }

    private static func argExtreme(isMax: Bool) -> Evaluator {
        { node, inputs, context in
            let x = try context.required(inputs, 0, node)
            let axis = try normalizedAxis(try node.attributes.int("axis", default: 0), rank: x.rank)
            let keepDims = try node.attributes.int("keepdims", default: 1) != 0
            let selectLast = try node.attributes.int("select_last_index", default: 0) != 0
            var shape = x.shape
            if keepDims { shape[axis] = 1 } else { shape.remove(at: axis) }
            var output = context.makeOutput(0, zeros: shape, dtype: .int64)
            try AxisScanKernels.argExtreme(x, axis: axis, isMax: isMax, selectLastIndex: selectLast, into: &output)
            return [output]
        }
    }
}
