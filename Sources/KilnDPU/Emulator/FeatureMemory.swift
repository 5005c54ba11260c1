import KilnCore
import KilnIR
import KilnKernels

/// The emulator's feature maps (int8, each in its buffer's stored layout) and the MISC
/// data-movement engine.
struct FeatureMemory {
    let buffers: [DPUBuffer]
    var storage: [[Int8]]
    /// The conv engine's im2col scratch, grown as tiles need (reused across tiles).
    var columns: [Int8] = []
    /// The conv engine's int32 accumulators, grown as tiles need.
    var accumulators: [Int32] = []

    init(_ program: DPUProgram) {
        buffers = program.buffers
        storage = program.buffers.map { buffer in
            if let constant = buffer.constant {
                return Array(program.blob[constant.offset..<(constant.offset + constant.count)])
            }
            return [Int8](repeating: 0, count: buffer.count)
        }
    }

    /// Stores values given in the graph's order into buffer `index`'s layout.
    mutating func store(logical values: [Int8], into index: Int) {
        let buffer = buffers[index]
        guard buffer.isNHWC else {
            storage[index] = values
            return
        }
        storage[index] = Self.transposed(values, shape: buffer.shape, toNHWC: true)
    }

    /// Buffer `index`'s values in the graph's order.
    func logical(_ index: Int) -> [Int8] {
        let buffer = buffers[index]
        let values = storage[index]
        guard buffer.isNHWC else { return values }
        return Self.transposed(values, shape: buffer.shape, toNHWC: false)
    }

    /// `values` of an NCHW `shape` moved between the graph's NCHW order and the DPU's NHWC one:
    /// images of up to 4 channels (an RGB input) by a byte interleave per image (2 µs on a
    /// 64×64 RGB input; the tiled transpose took 7 µs, the element loop before it 12 µs),
    /// others by the strided-copy kernel.
    private static func transposed(_ values: [Int8], shape: [Int], toNHWC: Bool) -> [Int8] {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (stored, permutation) = toNHWC ? ([n, c, h, w], [0, 2, 3, 1]) : ([n, h, w, c], [0, 3, 1, 2])
        return [Int8](unsafeUninitializedCapacity: values.count) { target, initialized in
            values.withUnsafeBytes { source in
                guard let from = source.baseAddress, let to = target.baseAddress else { return }
                if c <= 4 {
                    let image = c * h * w
                    for i in 0..<n {
                        StridedCopy.interleaveBytes(
                            from + i * image, count: h * w, planes: c, into: to + i * image, toInterleaved: toNHWC)
                    }
                } else {
                    StridedCopy.transpose(from, shape: stored, permutation: permutation, elementSize: 1, into: to)
                }
            }
            initialized = values.count
        }
    }

    /// Copy, transpose, concat and remap layers, in the graph's order.
    mutating func move(_ layer: DPULayer, _ prepared: PreparedLayer) throws {
        let output = buffers[layer.output]
        switch layer.operation {
        case .copy:
            store(logical: logical(layer.inputs[0]), into: layer.output)
        case .transpose(let permutation):
            let input = buffers[layer.inputs[0]]
            let source = logical(layer.inputs[0])
            let inStrides = Tensor.strides(input.shape)
            let strides = permutation.map { inStrides[$0] }
            var result = [Int8](repeating: 0, count: output.count)
            var index = [Int](repeating: 0, count: output.shape.count)
            for position in 0..<output.count {
                var offset = 0
                for axis in index.indices { offset += index[axis] * strides[axis] }
                result[position] = source[offset]
                var axis = index.count - 1
                while axis >= 0 {
                    index[axis] += 1
                    if index[axis] < output.shape[axis] { break }
                    index[axis] = 0
                    axis -= 1
                }
            }
            store(logical: result, into: layer.output)
        case .concat(let axis):
            let outer = output.shape[..<axis].reduce(1, *)
            let inner = output.shape[(axis + 1)...].reduce(1, *)
            let total = output.shape[axis] * inner
            var result = [Int8](repeating: 0, count: output.count)
            var start = 0
            for input in layer.inputs {
                let source = logical(input)
                let chunk = buffers[input].shape[axis] * inner
                for block in 0..<outer {
                    for element in 0..<chunk {
                        result[block * total + start + element] = source[block * chunk + element]
                    }
                }
                start += chunk
            }
            store(logical: result, into: layer.output)
        case .remap:
            guard let remap = prepared.remap else { return }
            var feeds: [String: Tensor] = [:]
            for (name, input) in zip(remap.input, layer.inputs) {
                let scalars = logical(input).map { Float($0) }
                feeds[name] = Tensor(shape: buffers[input].shape, scalars: scalars)
            }
            guard let result = try remap.interpreter.run(feeds)[remap.output], result.shape == output.shape else {
                throw KilnError(.invalidArgument, "DPU layer '\(layer.name)': the data movement produced another shape")
            }
            let values = result.doubleScalars().map { Int8(clamping: Int($0.clamped.rounded())) }
            store(logical: values, into: layer.output)
        case .conv, .pool, .elementwise, .unary:
            return
        }
    }
}
