import Foundation
import KilnCore
import KilnIR
import KilnONNXProto
import SwiftProtobuf

/// A model imported from ONNX.
public struct ImportedModel: Sendable {
    /// The main graph, with shapes and dtypes inferred.
    public var graph: Graph
    /// The model's opset for the default domain.
    public var opset: Int
    /// The ONNX IR version of the file.
    public var irVersion: Int
    /// The tool that wrote the file (`producer_name producer_version`).
    public var producer: String
}

/// ONNX import: `ModelProto` → ``Graph``.
///
/// Each node resolves to the newest version of its op that is ≤ the model's opset (as
/// onnxruntime does); the op's importer rewrites older versions into the newest form. An
/// op, op version or attribute value Kiln does not implement is an error naming the op,
/// the node and the opset.
///
/// ```swift
/// let model = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: "model.onnx"))
/// print(model.graph.printed())
/// ```
public enum ONNXImporter {
    /// The oldest default-domain opset Kiln imports.
    public static let oldestOpset = 7
    /// The newest default-domain opset Kiln imports.
    public static var newestOpset: Int { OpsetHistory.newestOpset }

    /// Imports a model file; external data is looked up beside it.
    ///
    /// - Throws: `fileNotFound`, `notONNX`, `unsupportedOpset`, `unsupportedOp`,
    ///   `unsupportedOpVersion`, `unsupportedAttribute`, `invalidModel`,
    ///   `externalDataMissing`, `unsupportedDType`.
    public static func importModel(contentsOf url: URL) throws -> ImportedModel {
        // The file's bytes are released once parsed, before the weights are converted.
        var proto = try parse(FileIO.read(url), name: url.path)
        return try importModel(&proto, directory: url.deletingLastPathComponent(), name: url.path)
    }

    /// Imports a serialized model.
    ///
    /// - Parameters:
    ///   - directory: where external data files live; `nil` when there are none.
    ///   - name: used in error messages.
    public static func importModel(data: Data, directory: URL?, name: String = "model") throws -> ImportedModel {
        var proto = try parse(data, name: name)
        return try importModel(&proto, directory: directory, name: name)
    }

    private static func parse(_ data: Data, name: String) throws -> Onnx_ModelProto {
        do {
            return try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw KilnError(.notONNX, "'\(name)' is not an ONNX model (protobuf parse failed: truncated or another format)")
        }
    }

    /// Imports a parsed model, emptying the raw data of its initializers as they become
    /// tensors (so a large model's weights are not held twice).
    private static func importModel(_ proto: inout Onnx_ModelProto, directory: URL?, name: String) throws -> ImportedModel {
        guard proto.hasGraph, proto.irVersion > 0, !proto.opsetImport.isEmpty else {
            throw KilnError(.notONNX, "'\(name)' is not an ONNX model (no graph, IR version or opset)")
        }
        let defaultOpset = proto.opsetImport.first { $0.domain == "" || $0.domain == "ai.onnx" }
        let opset = Int(defaultOpset?.version ?? 0)
        guard (oldestOpset...newestOpset).contains(opset) else {
            throw KilnError(
                .unsupportedOpset,
                "'\(name)' uses opset \(opset) of the default domain; Kiln imports opsets \(oldestOpset)…\(newestOpset)"
                    + (opset < oldestOpset ? " (convert it with onnx.version_converter)" : ""))
        }
        var builder = GraphBuilder(opset: opset, directory: directory)
        var graph = try builder.build(consuming: &proto.graph)
        graph = try ShapeInference.infer(graph)
        try Verifier.verify(graph)
        let producer = [proto.producerName, proto.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        return ImportedModel(graph: graph, opset: opset, irVersion: Int(proto.irVersion), producer: producer)
    }
}

/// Builds one (sub)graph from a `GraphProto`.
struct GraphBuilder {
    let opset: Int
    let directory: URL?

    init(opset: Int, directory: URL?) {
        self.opset = opset
        self.directory = directory
    }

    /// Builds the main graph, emptying each initializer's raw data once it is a tensor.
    mutating func build(consuming proto: inout Onnx_GraphProto) throws -> Graph {
        var initializers: [String: Tensor] = [:]
        for index in proto.initializer.indices {
            let initializer = proto.initializer[index]
            initializers[initializer.name] = try TensorProtoDecoder.decode(initializer, directory: directory)
            proto.initializer[index].rawData = Data()
        }
        return try build(proto, outerScope: [], decoded: initializers)
    }

    /// Builds a graph; names not defined in it but in `outerScope` become captures.
    /// `decoded` holds initializers already converted (by name).
    mutating func build(_ proto: Onnx_GraphProto, outerScope: Set<String>, decoded: [String: Tensor] = [:]) throws -> Graph {
        var graph = Graph(name: proto.name.isEmpty ? "graph" : proto.name)
        var ids: [String: ValueID] = [:]
        var declared: [String: TensorType] = [:]
        for info in proto.valueInfo + proto.output { declared[info.name] = try type(of: info) }

        func define(_ name: String, _ type: TensorType) -> ValueID {
            let id = graph.addValue(Value(name: name, type: type))
            ids[name] = id
            return id
        }
        for input in proto.input {
            guard ids[input.name] == nil else {
                throw KilnError(.invalidModel, "graph '\(graph.name)' declares input '\(input.name)' twice")
            }
            graph.inputs.append(define(input.name, try type(of: input)))
        }
        for initializer in proto.initializer {
            let tensor = try decoded[initializer.name] ?? TensorProtoDecoder.decode(initializer, directory: directory)
            // An initializer with an input's name is that input's default value.
            let id = ids[initializer.name] ?? define(initializer.name, .unknown)
            graph.initializers[id] = tensor
        }
        if !proto.sparseInitializer.isEmpty {
            throw KilnError(.unsupportedDType, "graph '\(graph.name)' has sparse initializers, which Kiln does not support")
        }

        func resolve(_ name: String, by nodeName: String) throws -> ValueID {
            if let id = ids[name] { return id }
            guard outerScope.contains(name) else {
                throw KilnError(.invalidModel, "node '\(nodeName)' reads '\(name)', which nothing defines")
            }
            let id = define(name, .unknown)
            graph.captures.append(id)
            return id
        }

        for (position, nodeProto) in proto.node.enumerated() {
            var node = try onnxNode(nodeProto, position: position)
            if node.opType == "Constant" {
                guard node.outputs.count == 1, !node.outputs[0].isEmpty else {
                    throw node.error(.invalidModel, "Constant must have one output")
                }
                let id = define(node.outputs[0], .unknown)
                graph.initializers[id] = try constantValue(node)
                continue
            }
            guard let importer = OpImporters.table[node.opType] else {
                throw node.error(.unsupportedOp, "operator '\(node.opType)' is not supported")
            }
            guard importer.versions.contains(node.version) else {
                throw node.error(
                    .unsupportedOpVersion,
                    "version \(node.version) of '\(node.opType)' is not supported (Kiln implements versions "
                        + "\(importer.versions.sorted().map(String.init).joined(separator: ", ")))")
            }
            try importer.normalize?(&node)
            for constant in node.constants {
                let id = define(constant.name, TensorType(dtype: constant.tensor.dtype, shape: constant.tensor.shape))
                graph.initializers[id] = constant.tensor
            }
            let scope = outerScope.union(ids.keys)
            var attributes = node.attributes
            for (key, value) in node.attributes.values {
                if case .graph = value, let bodyProto = nodeProto.attribute.first(where: { $0.name == key })?.g {
                    attributes[key] = .graph(try build(bodyProto, outerScope: scope))
                }
            }
            let inputs = try node.inputs.map { $0.isEmpty ? nil : try resolve($0, by: node.name) }
            var outputs: [ValueID?] = []
            for name in node.outputs {
                if name.isEmpty {
                    outputs.append(nil)
                } else {
                    guard ids[name] == nil else {
                        throw node.error(.invalidModel, "output '\(name)' is already defined")
                    }
                    outputs.append(define(name, declared[name] ?? .unknown))
                }
            }
            graph.addNode(Node(name: node.name, op: importer.kind, inputs: inputs, outputs: outputs, attributes: attributes))
        }
        for output in proto.output {
            graph.outputs.append(try resolve(output.name, by: "graph output"))
        }
        return graph
    }

    /// Converts a `NodeProto`, resolving its op version. Graph attributes are placeholders
    /// (`.graph` of an empty graph) until ``build(_:outerScope:)`` converts them in scope.
    private mutating func onnxNode(_ proto: Onnx_NodeProto, position: Int) throws -> ONNXNode {
        let name = proto.name.isEmpty ? "\(proto.opType.lowercased())_\(position)" : proto.name
        var node = ONNXNode(
            opType: proto.opType, name: name, inputs: proto.input, outputs: proto.output,
            attributes: Attributes(), version: 0, opset: opset)
        guard proto.domain.isEmpty || proto.domain == "ai.onnx" else {
            throw node.error(.unsupportedOp, "operator '\(proto.domain).\(proto.opType)' of domain '\(proto.domain)' is not supported")
        }
        guard let history = OpsetHistory.versions[proto.opType] else {
            throw node.error(.unsupportedOp, "operator '\(proto.opType)' is not an ONNX operator")
        }
        guard let version = history.last(where: { $0 <= opset }) else {
            throw node.error(.invalidModel, "operator '\(proto.opType)' does not exist in opset \(opset)")
        }
        node.version = version
        for attribute in proto.attribute {
            node.attributes[attribute.name] = try attributeValue(attribute, node: node)
        }
        return node
    }

    private func attributeValue(_ proto: Onnx_AttributeProto, node: ONNXNode) throws -> AttributeValue {
        if !proto.refAttrName.isEmpty {
            throw node.error(.unsupportedAttribute, "attribute '\(proto.name)' refers to a function attribute")
        }
        switch proto.type {
        case .float: return .float(proto.f)
        case .int: return .int(Int(proto.i))
        case .string: return .string(String(decoding: proto.s, as: UTF8.self))
        case .floats: return .floats(proto.floats)
        case .ints: return .ints(proto.ints.map { Int($0) })
        case .strings: return .strings(proto.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor: return .tensor(try TensorProtoDecoder.decode(proto.t, directory: directory))
        case .graph: return .graph(Graph(name: proto.g.name))
        default:
            throw node.error(.unsupportedAttribute, "attribute '\(proto.name)' has type \(proto.type), which Kiln does not support")
        }
    }

    /// The value of a `Constant` node.
    private func constantValue(_ node: ONNXNode) throws -> Tensor {
        let attributes = node.attributes
        if let tensor = try attributes.tensor("value") { return tensor }
        if attributes.has("value_float") {
            return Tensor(scalar: try attributes.float("value_float", default: 0))
        }
        if let values = try attributes.floats("value_floats") {
            return Tensor(shape: [values.count], scalars: values)
        }
        if let value = try attributes.int("value_int") { return Tensor(scalar: Int64(value)) }
        if let values = try attributes.ints("value_ints") {
            return Tensor(shape: [values.count], scalars: values.map { Int64($0) })
        }
        throw node.error(.unsupportedAttribute, "only tensor, float(s) and int(s) constants are supported")
    }

    /// The declared type of a graph input/output or value_info.
    private func type(of info: Onnx_ValueInfoProto) throws -> TensorType {
        guard info.hasType else { return .unknown }
        guard case .tensorType(let tensorType)? = info.type.value else {
            throw KilnError(
                .unsupportedDType,
                "value '\(info.name)' is a sequence, map or optional; Kiln supports tensor values only")
        }
        let dtype = TensorProtoDecoder.dtype(onnx: tensorType.elemType)
        if dtype == nil, tensorType.elemType != 0 {
            throw KilnError(
                .unsupportedDType,
                "value '\(info.name)' has element type \(TensorProtoDecoder.onnxTypeName(tensorType.elemType)), which Kiln does not support")
        }
        guard tensorType.hasShape else { return TensorType(dtype: dtype, shape: nil) }
        let dims = tensorType.shape.dim.map { dim -> Dim in
            switch dim.value {
            case .dimValue(let value)?: value >= 0 ? .known(Int(value)) : .unknown
            case .dimParam(let name)?: name.isEmpty ? .unknown : .symbol(name)
            case nil: .unknown
            }
        }
        return TensorType(dtype: dtype, shape: dims)
    }
}
