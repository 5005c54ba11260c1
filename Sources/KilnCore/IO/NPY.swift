import Foundation

/// Reading and writing NumPy `.npy` arrays (format versions 1–3, little-endian, C order).
public enum NPY {
    private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Decodes one `.npy` document.
    ///
    /// - Parameter name: used in error messages (a file path or an archive member).
    /// - Throws: `npyMalformed` for truncation or a bad header, `unsupportedDType` for
    ///   big-endian, Fortran-order, object or string arrays.
    public static func decode(_ data: Data, name: String = "array") throws -> Tensor {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw KilnError(.npyMalformed, "'\(name)' is not a .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else {
                throw KilnError(.npyMalformed, "'\(name)': truncated .npy header")
            }
            headerLength =
                Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw KilnError(.npyMalformed, "'\(name)': unknown .npy format version \(major)")
        }
        guard headerStart + headerLength <= bytes.count else {
            throw KilnError(.npyMalformed, "'\(name)': truncated .npy header")
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        let (dtype, shape) = try parseHeader(header, name: name)
        let elementCount = Tensor.elementCount(shape)
        let byteCount = elementCount * dtype.byteSize
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart >= byteCount else {
            throw KilnError(
                .npyMalformed,
                "'\(name)': truncated data: shape \(shape) \(dtype) needs \(byteCount) bytes, "
                    + "the file has \(bytes.count - dataStart)")
        }
        return bytes.withUnsafeBytes { raw in
            Tensor(
                shape: shape, dtype: dtype,
                bytes: UnsafeRawBufferPointer(rebasing: raw[dataStart..<(dataStart + byteCount)]))
        }
    }

    /// Reads a `.npy` file.
    ///
    /// - Throws: `fileNotFound`, `fileUnreadable`, and the errors of ``decode(_:name:)``.
    public static func read(contentsOf url: URL) throws -> Tensor {
        try decode(try FileIO.read(url), name: url.path)
    }

    /// Encodes a tensor as a version 1.0 `.npy` document (version 2.0 if the header needs it).
    public static func encode(_ tensor: Tensor) -> Data {
        let shapeText: String
        switch tensor.shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(tensor.shape[0]),)"
        default: shapeText = "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '\(descriptor(tensor.dtype))', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad so that the data starts on a 64-byte boundary, ending with '\n'.
        let prefix = 10
        let padded = (prefix + header.utf8.count + 1 + 63) / 64 * 64
        header += String(repeating: " ", count: padded - prefix - header.utf8.count - 1) + "\n"
        var out = Data(magic)
        let length = header.utf8.count
        if length <= 0xFFFF {
            out.append(contentsOf: [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)])
        } else {
            header += String(repeating: " ", count: 2)  // keep alignment with the 4-byte length
            let length2 = header.utf8.count
            out.append(contentsOf: [2, 0])
            out.append(contentsOf: (0..<4).map { UInt8((length2 >> (8 * $0)) & 0xFF) })
        }
        out.append(contentsOf: Array(header.utf8))
        tensor.withUnsafeBytes { out.append(contentsOf: $0) }
        return out
    }

    private static func descriptor(_ dtype: DType) -> String {
        switch dtype {
        case .float32: "<f4"
        case .float16: "<f2"
        case .float64: "<f8"
        case .int8: "|i1"
        case .uint8: "|u1"
        case .int16: "<i2"
        case .uint16: "<u2"
        case .int32: "<i4"
        case .uint32: "<u4"
        case .int64: "<i8"
        case .uint64: "<u8"
        case .bool: "|b1"
        }
    }

    private static func dtype(forDescriptor descr: String, name: String) throws -> DType {
        let table: [String: DType] = [
            "f4": .float32, "f2": .float16, "f8": .float64, "i1": .int8, "u1": .uint8,
            "i2": .int16, "u2": .uint16, "i4": .int32, "u4": .uint32, "i8": .int64,
            "u8": .uint64, "b1": .bool,
        ]
        guard let order = descr.first, "<|=".contains(order), let dtype = table[String(descr.dropFirst())]
        else {
            throw KilnError(
                .unsupportedDType,
                "'\(name)': array type '\(descr)' is not supported (use little-endian numeric or bool arrays)")
        }
        return dtype
    }

    private static func parseHeader(_ header: String, name: String) throws -> (DType, [Int]) {
        func field(_ key: String) -> Substring? {
            guard let range = header.range(of: "'\(key)':") else { return nil }
            return header[range.upperBound...].drop(while: { $0 == " " })
        }
        guard let descrField = field("descr"), descrField.first == "'",
            let end = descrField.dropFirst().firstIndex(of: "'")
        else {
            throw KilnError(.npyMalformed, "'\(name)': .npy header has no 'descr'")
        }
        let dtype = try dtype(forDescriptor: String(descrField.dropFirst()[..<end]), name: name)
        guard let fortran = field("fortran_order") else {
            throw KilnError(.npyMalformed, "'\(name)': .npy header has no 'fortran_order'")
        }
        if fortran.hasPrefix("True") {
            throw KilnError(
                .unsupportedDType,
                "'\(name)': Fortran-order arrays are not supported; save np.ascontiguousarray(a)")
        }
        guard let shapeField = field("shape"), shapeField.first == "(",
            let close = shapeField.firstIndex(of: ")")
        else {
            throw KilnError(.npyMalformed, "'\(name)': .npy header has no 'shape'")
        }
        var shape: [Int] = []
        for part in shapeField.dropFirst()[..<close].split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            if text.isEmpty { continue }
            guard let dim = Int(text), dim >= 0 else {
                throw KilnError(.npyMalformed, "'\(name)': bad dimension '\(text)' in .npy shape")
            }
            shape.append(dim)
        }
        return (dtype, shape)
    }
}
