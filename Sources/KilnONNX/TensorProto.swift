import Foundation
import KilnCore
import KilnONNXProto

/// Conversion of ONNX `TensorProto`s (inline, typed fields, or external data) to tensors.
enum TensorProtoDecoder {
    /// ONNX `TensorProto.DataType` numbers Kiln handles.
    static func dtype(onnx code: Int32) -> DType? {
        switch code {
        case 1: .float32
        case 2: .uint8
        case 3: .int8
        case 4: .uint16
        case 5: .int16
        case 6: .int32
        case 7: .int64
        case 9: .bool
        case 10: .float16
        case 11: .float64
        case 12: .uint32
        case 13: .uint64
        default: nil
        }
    }

    /// The name of an ONNX data type code, for messages.
    static func onnxTypeName(_ code: Int32) -> String {
        let names: [Int32: String] = [
            8: "string", 14: "complex64", 15: "complex128", 16: "bfloat16", 17: "float8e4m3fn",
            18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4",
            23: "float4e2m1",
        ]
        return names[code] ?? "type \(code)"
    }

    /// Decodes a tensor.
    ///
    /// - Parameter directory: where external data files are looked up (the model's folder).
    /// - Throws: `unsupportedDType`, `invalidModel` (sizes that don't match),
    ///   `externalDataMissing`.
    static func decode(_ proto: Onnx_TensorProto, directory: URL?) throws -> Tensor {
        let label = proto.name.isEmpty ? "tensor" : "tensor '\(proto.name)'"
        guard let dtype = dtype(onnx: proto.dataType) else {
            throw KilnError(
                .unsupportedDType, "\(label) has element type \(onnxTypeName(proto.dataType)), which Kiln does not support")
        }
        guard proto.dims.allSatisfy({ $0 >= 0 }) else {
            throw KilnError(.invalidModel, "\(label) has a negative dimension \(proto.dims)")
        }
        let shape = proto.dims.map { Int($0) }
        let count = Tensor.elementCount(shape)
        let byteCount = count * dtype.byteSize

        if proto.dataLocation == .external {
            let bytes = try externalBytes(proto, label: label, byteCount: byteCount, directory: directory)
            return bytes.withUnsafeBytes { Tensor(shape: shape, dtype: dtype, bytes: $0) }
        }
        if proto.hasRawData {
            guard proto.rawData.count == byteCount else {
                throw KilnError(
                    .invalidModel, "\(label): raw data has \(proto.rawData.count) bytes, shape \(shape) \(dtype) needs \(byteCount)")
            }
            return proto.rawData.withUnsafeBytes { Tensor(shape: shape, dtype: dtype, bytes: $0) }
        }
        func checked<T>(_ values: [T]) throws -> [T] {
            guard values.count == count else {
                throw KilnError(.invalidModel, "\(label) has \(values.count) values for shape \(shape)")
            }
            return values
        }
        switch dtype {
        case .float32: return Tensor(shape: shape, scalars: try checked(proto.floatData))
        case .float64: return Tensor(shape: shape, scalars: try checked(proto.doubleData))
        case .int64: return Tensor(shape: shape, scalars: try checked(proto.int64Data))
        case .uint64: return Tensor(shape: shape, scalars: try checked(proto.uint64Data))
        case .uint32: return Tensor(shape: shape, scalars: try checked(proto.uint64Data).map { UInt32(truncatingIfNeeded: $0) })
        case .int32: return Tensor(shape: shape, scalars: try checked(proto.int32Data))
        case .int16: return Tensor(shape: shape, scalars: try checked(proto.int32Data).map { Int16(truncatingIfNeeded: $0) })
        case .uint16: return Tensor(shape: shape, scalars: try checked(proto.int32Data).map { UInt16(truncatingIfNeeded: $0) })
        case .int8: return Tensor(shape: shape, scalars: try checked(proto.int32Data).map { Int8(truncatingIfNeeded: $0) })
        case .uint8: return Tensor(shape: shape, scalars: try checked(proto.int32Data).map { UInt8(truncatingIfNeeded: $0) })
        case .bool: return Tensor(shape: shape, scalars: try checked(proto.int32Data).map { $0 != 0 })
        case .float16:
            // float16 values travel as their bit patterns in int32_data.
            let bits = try checked(proto.int32Data).map { UInt16(truncatingIfNeeded: $0) }
            return bits.withUnsafeBytes { Tensor(shape: shape, dtype: .float16, bytes: $0) }
        }
    }

    private static func externalBytes(
        _ proto: Onnx_TensorProto, label: String, byteCount: Int, directory: URL?
    ) throws -> Data {
        var entries: [String: String] = [:]
        for entry in proto.externalData { entries[entry.key] = entry.value }
        guard let location = entries["location"], !location.isEmpty else {
            throw KilnError(.invalidModel, "\(label) has external data without a location")
        }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw KilnError(.invalidModel, "\(label): external data location '\(location)' must stay inside the model's folder")
        }
        guard let directory else {
            throw KilnError(.externalDataMissing, "\(label) uses external data but the model was not loaded from a file")
        }
        let url = directory.appendingPathComponent(location)
        let offset = Int(entries["offset"] ?? "0") ?? -1
        let length = entries["length"].flatMap { Int($0) } ?? byteCount
        guard offset >= 0, length == byteCount else {
            throw KilnError(.invalidModel, "\(label): external data offset/length (\(offset), \(length)) do not fit \(byteCount) bytes")
        }
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw KilnError(.externalDataMissing, "\(label): external data file '\(url.path)' not found")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: byteCount) ?? Data()
            guard data.count == byteCount else {
                throw KilnError(
                    .externalDataMissing, "\(label): '\(url.path)' holds \(data.count) of the \(byteCount) bytes at offset \(offset)")
            }
            return data
        } catch let error as KilnError {
            throw error
        } catch {
            throw KilnError(.externalDataMissing, "\(label): cannot read '\(url.path)': \(error)")
        }
    }
}
