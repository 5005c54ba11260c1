import Foundation
import KilnCore
import KilnONNXProto

/// Serialized ONNX `TensorProto` files (the `input_N.pb` / `output_N.pb` of ONNX test data).
public enum ONNXTensorFile {
    /// Reads one tensor and its name.
    ///
    /// - Throws: `fileNotFound`, `notONNX` for an unparseable file, and the errors of
    ///   tensor decoding (`unsupportedDType`, `invalidModel`).
    public static func read(contentsOf url: URL) throws -> (name: String, tensor: Tensor) {
        let data = try FileIO.read(url)
        let proto: Onnx_TensorProto
        do {
            proto = try Onnx_TensorProto(serializedBytes: data)
        } catch {
            throw KilnError(.notONNX, "'\(url.path)' is not a serialized ONNX tensor")
        }
        return (proto.name, try TensorProtoDecoder.decode(proto, directory: url.deletingLastPathComponent()))
    }

    /// The ONNX op types a model file uses, including inside subgraphs (`domain.op` for
    /// non-default domains), without importing it.
    public static func opTypes(ofModel url: URL) throws -> Set<String> {
        let proto = try Onnx_ModelProto(serializedBytes: try FileIO.read(url))
        var result = Set<String>()
        func visit(_ graph: Onnx_GraphProto) {
            for node in graph.node {
                result.insert(node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : "\(node.domain).\(node.opType)")
                for attribute in node.attribute {
                    if attribute.hasG { visit(attribute.g) }
                    attribute.graphs.forEach(visit)
                }
            }
        }
        visit(proto.graph)
        return result
    }

    /// Whether Kiln's importer knows the ONNX op type `name` (at some version).
    public static func isSupportedOp(_ name: String) -> Bool {
        name == "Constant" || OpImporters.table[name] != nil
    }
}

/// Read access to the generated opset table, for tests and reports.
package enum ONNXOpsetHistory {
    /// The change versions of an ONNX op of the default domain (empty when unknown).
    package static func versions(of op: String) -> [Int] {
        OpsetHistory.versions[op] ?? []
    }
}
