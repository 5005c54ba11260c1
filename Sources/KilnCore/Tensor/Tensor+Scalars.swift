extension Tensor {
    /// The elements of an integer (or bool) tensor as `Int`s, or `nil` for a floating-point dtype.
    public func integerScalars() -> [Int]? {
        switch dtype {
        case .int64: scalars(as: Int64.self).map { Int($0) }
        case .int32: scalars(as: Int32.self).map { Int($0) }
        case .int16: scalars(as: Int16.self).map { Int($0) }
        case .int8: scalars(as: Int8.self).map { Int($0) }
        case .uint8: scalars(as: UInt8.self).map { Int($0) }
        case .uint16: scalars(as: UInt16.self).map { Int($0) }
        case .uint32: scalars(as: UInt32.self).map { Int($0) }
        case .uint64: scalars(as: UInt64.self).map { Int(truncatingIfNeeded: $0) }
        case .bool: scalars(as: Bool.self).map { $0 ? 1 : 0 }
        case .float32, .float16, .float64: nil
        }
    }

    /// The elements of any tensor as `Double`s (for reports and comparisons, not hot paths).
    public func doubleScalars() -> [Double] {
        switch dtype {
        case .float32: scalars(as: Float.self).map(Double.init)
        case .float64: scalars(as: Double.self)
        case .float16: scalars(as: Float16.self).map(Double.init)
        case .uint64: scalars(as: UInt64.self).map(Double.init)
        default: integerScalars()?.map(Double.init) ?? []
        }
    }
}
