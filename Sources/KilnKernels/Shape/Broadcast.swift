import KilnCore

/// NumPy-style (multidirectional) broadcasting, as ONNX defines it.
public enum Broadcast {
    /// The broadcast shape of `shapes`, or `nil` when they are incompatible.
    public static func shape(_ shapes: [[Int]]) -> [Int]? {
        // Equal shapes (the common case) broadcast to themselves. This runs once per
        // elementwise node: plain loops, no key path or closure.
        guard let first = shapes.first else { return [] }
        var rank = first.count
        var allEqual = true
        for shape in shapes.dropFirst() {
            rank = Swift.max(rank, shape.count)
            if shape != first { allEqual = false }
        }
        if allEqual { return first }
        var result = [Int](repeating: 1, count: rank)
        for shape in shapes {
            let offset = rank - shape.count
            for (axis, dim) in shape.enumerated() {
                let current = result[offset + axis]
                if current == dim || dim == 1 { continue }
                if current == 1 { result[offset + axis] = dim } else { return nil }
            }
        }
        return result
    }

    /// The broadcast shape, or a `shapeMismatch` error listing the shapes.
    public static func checkedShape(_ shapes: [[Int]]) throws -> [Int] {
        guard let result = shape(shapes) else {
            throw KilnError(.shapeMismatch, "shapes \(shapes.map { "\($0)" }.joined(separator: ", ")) do not broadcast")
        }
        return result
    }

    /// The strides (in elements) with which an operand of `shape` is read when broadcast
    /// to `target`: 0 along broadcast axes, left-padded to `target`'s rank.
    public static func strides(of shape: [Int], to target: [Int]) -> [Int] {
        let own = Tensor.strides(shape)
        let offset = target.count - shape.count
        return (0..<target.count).map { axis in
            axis < offset || shape[axis - offset] == 1 ? 0 : own[axis - offset]
        }
    }

    /// For each element of `target` in row-major order, the index read from an operand of
    /// `shape`. Use it for generic (non-hot) broadcasting; fast paths handle equal shapes
    /// and scalars directly.
    public static func indices(of shape: [Int], to target: [Int]) -> [Int] {
        let strides = strides(of: shape, to: target)
        let count = Tensor.elementCount(target)
        var result = [Int](repeating: 0, count: count)
        guard count > 0 else { return result }
        var counter = [Int](repeating: 0, count: target.count)
        var offset = 0
        for index in 0..<count {
            result[index] = offset
            var axis = target.count - 1
            while axis >= 0 {
                counter[axis] += 1
                offset += strides[axis]
                if counter[axis] < target[axis] { break }
                offset -= strides[axis] * target[axis]
                counter[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}
