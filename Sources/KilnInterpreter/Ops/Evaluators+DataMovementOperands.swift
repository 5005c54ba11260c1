import KilnCore
import KilnIR

/// Operand decoding shared by the DataMovement evaluators: integer lists, axes, scalars
/// of any dtype, and typed dispatch.
enum DataMovementOperands {
    /// The elements of an integer tensor as `Int`s.
    ///
    /// - Throws: `invalidArgument` when the tensor is not of an integer dtype.
    static func ints(_ tensor: Tensor, _ what: String) throws -> [Int] {
        guard let values = tensor.integerScalars() else {
            throw KilnError(.invalidArgument, "\(what) must be an integer tensor, got \(tensor.dtype)")
        }
        return values
    }

    /// The integers of optional input `index`, or `nil` when it is absent or empty.
    static func optionalInts(_ inputs: [Tensor?], _ index: Int, _ what: String) throws -> [Int]? {
        guard index < inputs.count, let tensor = inputs[index], tensor.count > 0 else { return nil }
        return try ints(tensor, what)
    }

    /// `axis` resolved against `rank` (negative counts from the end).
    ///
    /// - Throws: `invalidArgument` when it is out of range.
    static func axis(_ axis: Int, rank: Int, _ what: String = "axis") throws -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0, resolved < rank else {
            throw KilnError(.invalidArgument, "\(what) \(axis) is out of range for rank \(rank)")
        }
        return resolved
    }

    /// `index` resolved against `dim` (negative counts from the end).
    ///
    /// - Throws: `invalidArgument` when it is out of range.
    static func index(_ index: Int, dim: Int) throws -> Int {
        let resolved = index < 0 ? index + dim : index
        guard resolved >= 0, resolved < dim else {
            throw KilnError(.invalidArgument, "index \(index) is out of range for a dimension of \(dim)")
        }
        return resolved
    }

    /// The element count of `shape`, checked: every dim non-negative and the product
    /// representable (at most 2⁴⁰ elements, far beyond any real tensor).
    ///
    /// - Throws: `invalidArgument` for a negative dim or an absurd size.
    @discardableResult
    static func checkedCount(_ shape: [Int]) throws -> Int {
        var count = 1
        for dim in shape {
            guard dim >= 0 else { throw KilnError(.invalidArgument, "shape \(shape) has a negative dimension") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= 1 << 40 else {
                throw KilnError(.invalidArgument, "shape \(shape) is too large")
            }
            count = product
        }
        return count
    }

    /// The bytes of element `index` of `tensor`.
    static func elementBytes(_ tensor: Tensor, at index: Int) -> [UInt8] {
        let size = tensor.dtype.byteSize
        return tensor.withUnsafeBytes { Array($0[(index * size)..<((index + 1) * size)]) }
    }

    /// The bytes of `value` stored as `dtype` (integers round and saturate).
    static func elementBytes(_ value: Double, as dtype: DType) -> [UInt8] {
        func bytes<T: TensorElement>(_ element: T) -> [UInt8] { Swift.withUnsafeBytes(of: element) { Array($0) } }
        func integer<T: FixedWidthInteger & TensorElement>(_ type: T.Type) -> [UInt8] {
            let rounded = value.rounded(.toNearestOrEven)
            if rounded.isNaN { return bytes(T.zero) }
            if rounded <= Double(T.min) { return bytes(T.min) }
            if rounded >= Double(T.max) { return bytes(T.max) }
            return bytes(T(rounded))
        }
        switch dtype {
        case .float32: return bytes(Float(value))
        case .float64: return bytes(value)
        case .float16: return bytes(Float16(value))
        case .int8: return integer(Int8.self)
        case .uint8: return integer(UInt8.self)
        case .int16: return integer(Int16.self)
        case .uint16: return integer(UInt16.self)
        case .int32: return integer(Int32.self)
        case .uint32: return integer(UInt32.self)
        case .int64: return integer(Int64.self)
        case .uint64: return integer(UInt64.self)
        case .bool: return bytes(value != 0)
        }
    }

    /// A tensor of `shape` and `dtype` filled by `body` writing its raw bytes.
    static func make(
        _ shape: [Int], _ dtype: DType, _ body: (UnsafeMutableRawPointer) throws -> Void
    ) rethrows -> Tensor {
        var tensor = Tensor(zeros: shape, dtype: dtype)
        try tensor.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            try body(base)
        }
        return tensor
    }

    /// Lets `body` write the raw bytes of `tensor` (from ``KilnInterpreter/EvalContext/makeOutput(_:zeros:dtype:)``).
    /// Takes the tensor `inout` so that it stays uniquely referenced (no copy on write).
    static func fill(
        _ tensor: inout Tensor, _ body: (UnsafeMutableRawPointer) throws -> Void
    ) rethrows {
        try tensor.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            try body(base)
        }
    }

    /// Calls `body` with the tensor's base address (storage is never unallocated).
    static func read<R>(_ tensor: Tensor, _ body: (UnsafeRawPointer) throws -> R) throws -> R {
        try tensor.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else {
                throw KilnError(.invalidArgument, "tensor \(tensor) has no storage")
            }
            return try body(base)
        }
    }

    /// Runs `body` with the Swift type of a numeric dtype (`bool` is not numeric).
    ///
    /// - Throws: `kernelMissing` for `bool`.
    static func withNumericType<Body: DataMovementNumericBody>(_ dtype: DType, _ op: String, _ body: Body) throws -> Body.Result {
        switch dtype {
        case .float32: return try body.run(Float.self)
        case .float64: return try body.run(Double.self)
        case .float16: return try body.run(Float16.self)
        case .int8: return try body.run(Int8.self)
        case .uint8: return try body.run(UInt8.self)
        case .int16: return try body.run(Int16.self)
        case .uint16: return try body.run(UInt16.self)
        case .int32: return try body.run(Int32.self)
        case .uint32: return try body.run(UInt32.self)
        case .int64: return try body.run(Int64.self)
        case .uint64: return try body.run(UInt64.self)
        case .bool: throw KilnError(.kernelMissing, "[\(op)] no bool kernel")
        }
    }
}

/// A computation generic over a numeric element type, run by
/// ``DataMovementOperands/withNumericType(_:_:_:)``.
protocol DataMovementNumericBody {
    associatedtype Result
    func run<T: TensorElement & Numeric & Comparable>(_ type: T.Type) throws -> Result
}
