import Foundation
import KilnCore
import KilnONNXProto

/// Conversion of tensors to ONNX `TensorProto`s: the inverse of ``TensorProtoDecoder``.
package enum TensorProtoEncoder {
    /// The ONNX `TensorProto.DataType` number of `dtype`.
    package static func code(_ dtype: DType) -> Int32 {
        switch dtype {
        case .float32: 1
        case .uint8: 2
        case .int8: 3
        case .uint16: 4
        case .int16: 5
        case .int32: 6
        case .int64: 7
        case .bool: 9
        case .float16: 10
        case .float64: 11
        case .uint32: 12
        case .uint64: 13
        }
    }

    /// A tensor as `raw_data` (little-endian, as Kiln stores it on every platform it
    /// builds for).
    package static func encode(_ tensor: Tensor, name: String) -> Onnx_TensorProto {
        var proto = Onnx_TensorProto()
        proto.name = name
        proto.dataType = code(tensor.dtype)
        proto.dims = tensor.shape.map { Int64($0) }
        proto.rawData = tensor.withUnsafeBytes { Data($0) }
        return proto
    }
}
