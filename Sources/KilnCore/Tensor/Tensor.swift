/// A dense, contiguous, row-major (C order) n-dimensional array.
///
/// `Tensor` is a value: copies share storage until one is mutated. Kernels read a
/// tensor through ``withUnsafeBytes(_:)`` / ``withUnsafeBufferPointer(as:_:)`` and
/// write into a tensor the caller allocated through the mutable variants.
///
/// ```swift
/// let x = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4] as [Float])
/// let y = x.scalars(as: Float.self)   // [1, 2, 3, 4]
/// ```
public struct Tensor: Sendable {
    /// The extent of each axis. A scalar has shape `[]`.
    public private(set) var shape: [Int]
    /// The element type.
    public let dtype: DType
    package private(set) var storage: TensorStorage

    /// A zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        self.dtype = dtype
        storage = TensorStorage(byteCount: Self.elementCount(shape) * dtype.byteSize)
    }

    /// A tensor holding `scalars` in row-major order.
    ///
    /// - Precondition: `scalars.count` equals the product of `shape`.
    public init<T: TensorElement>(shape: [Int], scalars: [T]) {
        precondition(
            Self.elementCount(shape) == scalars.count,
            "Tensor: \(scalars.count) scalars for shape \(shape)")
        self.init(zeros: shape, dtype: T.dtype)
        scalars.withUnsafeBytes { source in
            if let base = source.baseAddress, !source.isEmpty {
                storage.pointer.copyMemory(from: base, byteCount: source.count)
            }
        }
    }

    /// A rank-0 tensor.
    public init<T: TensorElement>(scalar: T) {
        self.init(shape: [], scalars: [scalar])
    }

    /// A tensor over existing storage (no copy).
    package init(shape: [Int], dtype: DType, storage: TensorStorage) {
        precondition(
            storage.byteCount >= Self.elementCount(shape) * dtype.byteSize,
            "Tensor: storage too small for \(shape) \(dtype)")
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
    }

    /// A tensor over `byteCount` bytes of memory that `owner` allocated (an executor's
    /// arena), without copying; the tensor keeps `owner` alive. Writing through a copy of
    /// the tensor copies first (copy on write); writing through this one, while it is the
    /// only tensor on its storage, writes the viewed memory.
    ///
    /// - Precondition: `byteCount` is at least the tensor's byte count.
    package init(shape: [Int], dtype: DType, viewing pointer: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.init(shape: shape, dtype: dtype, storage: TensorStorage(viewing: pointer, byteCount: byteCount, owner: owner))
    }

    /// A tensor over `byteCount` bytes that `owner` keeps mapped and unchanged (an
    /// artifact's constants), without copying; the tensor keeps `owner` alive.
    ///
    /// - Precondition: `byteCount` is at least the tensor's byte count.
    package init(shape: [Int], dtype: DType, mapping pointer: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.init(shape: shape, dtype: dtype, storage: TensorStorage(mapping: pointer, byteCount: byteCount, owner: owner))
    }

    /// The address of the first element (identity checks by executors; never write through it).
    package var baseAddress: UnsafeRawPointer { UnsafeRawPointer(storage.pointer) }

    /// Whether the tensor views memory it does not own (see ``init(shape:dtype:viewing:byteCount:owner:)``).
    package var isView: Bool { storage.isView }

    /// A tensor with its own copy of the bytes (unshared, owned storage).
    public func ownedCopy() -> Tensor {
        Tensor(shape: shape, dtype: dtype, storage: storage.copyPrefix(byteCount))
    }

    /// A tensor of `shape` and `dtype` whose bytes are copied from `bytes`.
    ///
    /// - Precondition: `bytes.count` equals the tensor's byte count.
    public init(shape: [Int], dtype: DType, bytes: UnsafeRawBufferPointer) {
        self.init(zeros: shape, dtype: dtype)
        precondition(bytes.count == byteCount, "Tensor: \(bytes.count) bytes for \(shape) \(dtype)")
        if let base = bytes.baseAddress, !bytes.isEmpty {
            storage.pointer.copyMemory(from: base, byteCount: bytes.count)
        }
    }

    /// Number of axes.
    public var rank: Int { shape.count }
    /// Number of elements (1 for a scalar).
    public var count: Int { Self.elementCount(shape) }
    /// Number of bytes of element data.
    public var byteCount: Int { count * dtype.byteSize }

    /// The product of `shape` (1 for `[]`).
    public static func elementCount(_ shape: [Int]) -> Int {
        shape.reduce(1, *)
    }

    /// The row-major strides of `shape`, in elements.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in shape.indices.reversed() {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }

    /// The same elements under another shape with the same element count (no copy).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(
            Self.elementCount(newShape) == count, "Tensor: cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, dtype: dtype, storage: storage)
    }

    /// Calls `body` with the raw element bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.pointer, count: byteCount))
    }

    /// Calls `body` with the raw element bytes for writing; copies shared storage first.
    public mutating func withUnsafeMutableBytes<R>(
        _ body: (UnsafeMutableRawBufferPointer) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage.copy()
        }
        return try body(UnsafeMutableRawBufferPointer(start: storage.pointer, count: byteCount))
    }

    /// Calls `body` with the elements typed as `T`.
    ///
    /// - Precondition: `T.dtype == dtype`.
    public func withUnsafeBufferPointer<T: TensorElement, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) rethrows -> R {
        precondition(T.dtype == dtype, "Tensor: reading \(dtype) as \(T.dtype)")
        let typed = storage.pointer.bindMemory(to: T.self, capacity: max(count, 1))
        return try body(UnsafeBufferPointer(start: typed, count: count))
    }

    /// Calls `body` with the elements typed as `T`, for writing; copies shared storage first.
    ///
    /// - Precondition: `T.dtype == dtype`.
    public mutating func withUnsafeMutableBufferPointer<T: TensorElement, R>(
        as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) rethrows -> R {
        precondition(T.dtype == dtype, "Tensor: writing \(T.dtype) into \(dtype)")
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage.copy()
        }
        let typed = storage.pointer.bindMemory(to: T.self, capacity: max(count, 1))
        return try body(UnsafeMutableBufferPointer(start: typed, count: count))
    }

    /// The elements as an array of `T`.
    public func scalars<T: TensorElement>(as type: T.Type) -> [T] {
        withUnsafeBufferPointer(as: T.self) { Array($0) }
    }
}

extension Tensor: Equatable {
    /// Tensors are equal when shape, dtype and bytes are equal.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape, lhs.dtype == rhs.dtype else { return false }
        if lhs.storage === rhs.storage { return true }
        return lhs.withUnsafeBytes { a in rhs.withUnsafeBytes { b in a.elementsEqual(b) } }
    }
}

extension Tensor: Hashable {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(shape)
        hasher.combine(dtype)
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

extension Tensor: CustomStringConvertible {
    /// `float32[2, 3]`.
    public var description: String {
        "\(dtype)[\(shape.map(String.init).joined(separator: ", "))]"
    }
}
