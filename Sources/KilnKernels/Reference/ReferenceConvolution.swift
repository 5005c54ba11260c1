import KilnCore

/// Slow, obviously correct convolutions over any number of spatial axes: the definition
/// the fast ``Convolution`` and ``TransposedConvolution`` kernels are tested against, and
/// the path for float64 and float16. Sums are accumulated in `Double`.
package enum ReferenceConvolution {
    /// `output[n, m, o…] = bias[m] + Σ_{c, k…} input[n, g·C/G + c, o·s + k·d − pad] · weight[m, c, k…]`
    /// over taps that fall inside the input; `output` has shape `[N, M, geometry.output…]`.
    package static func conv<T: BinaryFloatingPoint & TensorElement>(
        _ input: Tensor, _ weight: Tensor, _ bias: Tensor?, group: Int, geometry: WindowGeometry,
        output: inout Tensor, as type: T.Type
    ) {
        let x = input.scalars(as: T.self)
        let w = weight.scalars(as: T.self)
        let b = bias?.scalars(as: T.self)
        let (batch, channels, outChannels) = (input.shape[0], input.shape[1], weight.shape[0])
        let groupChannels = channels / group
        let groupOutChannels = outChannels / group
        let inputPixels = Tensor.elementCount(geometry.input)
        let outputPositions = allIndices(geometry.output)
        let taps = allIndices(geometry.kernel)
        output.withUnsafeMutableBufferPointer(as: T.self) { y in
            var flat = 0
            for image in 0..<batch {
                for m in 0..<outChannels {
                    let g = m / groupOutChannels
                    for position in outputPositions {
                        var sum = Double(b?[m] ?? 0)
                        for c in 0..<groupChannels {
                            let channel = g * groupChannels + c
                            for (tapIndex, tap) in taps.enumerated() {
                                var offset = 0
                                var inside = true
                                for axis in 0..<geometry.rank {
                                    let coordinate = position[axis] * geometry.strides[axis]
                                        + tap[axis] * geometry.dilations[axis] - geometry.padsBegin[axis]
                                    if coordinate < 0 || coordinate >= geometry.input[axis] { inside = false }
                                    offset = offset * geometry.input[axis] + coordinate
                                }
                                guard inside else { continue }
                                let xValue = x[(image * channels + channel) * inputPixels + offset]
                                let wValue = w[(m * groupChannels + c) * taps.count + tapIndex]
                                sum += Double(xValue) * Double(wValue)
                            }
                        }
                        y[flat] = T(sum)
                        flat += 1
                    }
                }
            }
        }
    }

    /// The transpose of ``conv(_:_:_:group:geometry:output:as:)``: every input pixel,
    /// scaled by each kernel tap, is added at `i·s + k·d − pad` in the output;
    /// `weight` is `[C, M/G, k…]` and `output` `[N, M, geometry.output…]`.
    package static func convTranspose<T: BinaryFloatingPoint & TensorElement>(
        _ input: Tensor, _ weight: Tensor, _ bias: Tensor?, group: Int, geometry: WindowGeometry,
        output: inout Tensor, as type: T.Type
    ) {
        let x = input.scalars(as: T.self)
        let w = weight.scalars(as: T.self)
        let b = bias?.scalars(as: T.self)
        let (batch, channels) = (input.shape[0], input.shape[1])
        let groupOutChannels = weight.shape[1]
        let outChannels = groupOutChannels * group
        let groupChannels = channels / group
        let outputPixels = Tensor.elementCount(geometry.output)
        let inputPositions = allIndices(geometry.input)
        let taps = allIndices(geometry.kernel)
        var sums = [Double](repeating: 0, count: batch * outChannels * outputPixels)
        for image in 0..<batch {
            for m in 0..<outChannels { 
                for pixel in 0..<outputPixels {
                    sums[(image * outChannels + m) * outputPixels + pixel] = Double(b?[m] ?? 0)
                }
            }
            for channel in 0..<channels {
                let g = channel / groupChannels
                for (inputIndex, position) in inputPositions.enumerated() {
                    let xValue = Double(x[(image * channels + channel) * inputPositions.count + inputIndex])
                    for (tapIndex, tap) in taps.enumerated() {
                        var offset = 0
                        var inside = true
                        for axis in 0..<geometry.rank {
                            let coordinate = position[axis] * geometry.strides[axis]
                                + tap[axis] * geometry.dilations[axis] - geometry.padsBegin[axis]
                            if coordinate < 0 || coordinate >= geometry.output[axis] { inside = false }
                            offset = offset * geometry.output[axis] + coordinate
                        }
                        guard inside else { continue }
                        for mg in 0..<groupOutChannels {
                            let m = g * groupOutChannels + mg
                            let wValue = Double(w[(channel * groupOutChannels + mg) * taps.count + tapIndex])
                            sums[(image * outChannels + m) * outputPixels + offset] += xValue * wValue
                        }
                    }
                }
            }
        }
        output.withUnsafeMutableBufferPointer(as: T.self) { y in
            for index in sums.indices { y[index] = T(sums[index]) }
        }
    }

    /// Every multi-index of `shape`, in row-major order.
    static func allIndices(_ shape: [Int]) -> [[Int]] {
        var result: [[Int]] = []
        let count = Tensor.elementCount(shape)
        result.reserveCapacity(count)
        var index = [Int](repeating: 0, count: shape.count)
        for _ in 0..<count {
            result.append(index)
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}
