import Foundation
import KilnCore
import KilnIR
import KilnONNXProto
import SwiftProtobuf

/// ONNX export: ``Graph`` → `ModelProto` bytes, the inverse of ``ONNXImporter``.
///
/// Attributes keep their ONNX names; ops the importer normalized into their newest form
/// are written back in the form the requested opset defines (e.g. `ReduceMean`'s `axes`
/// input becomes an attribute below opset 18). Ops that passes create and ONNX lacks are
/// spelled out: `relu6` → `Clip(x, 0, 6)`, `silu` → `Mul(x, Sigmoid(x))`, `hard_swish` →
/// `HardSwish` (or `Mul(x, HardSigmoid(x))` below opset 14), and each `dpu_subgraph`
/// node is replaced by its body. Initializers are written as `raw_data`; every typed value
/// gets a `value_info` (symbolic dimensions as `dim_param`).
///
/// ```swift
/// let model = try ONNXImporter.importModel(contentsOf: URL(fileURLWithPath: "model.onnx"))
/// let bytes = try ONNXExporter.export(model.graph, opset: model.opset)
/// try FileIO.writeAtomically(bytes, to: URL(fileURLWithPath: "copy.onnx"))
/// ```
///
/// ### See Also
/// - ``ONNXImporter``
public enum ONNXExporter {
    /// The oldest opset Kiln exports: 13 is the first with per-axis `DequantizeLinear`
    /// and with `axes` inputs for `Squeeze`, `Unsqueeze` and `ReduceSum`.
    public static let oldestOpset = 13
    /// The ONNX IR version written (onnxruntime 1.31 reads up to 10 — onnx 1.23's default of
    /// 14 it refuses).
    public static let irVersion = 10

    /// Serializes `graph` as an ONNX model of the default-domain `opset`.
    ///
    /// - Parameters:
    ///   - graph: The graph; shapes and dtypes become `value_info` where known.
    ///   - opset: The default-domain opset, ``oldestOpset`` … ``ONNXImporter/newestOpset``.
    /// - Returns: The `ModelProto` bytes.
    /// - Throws: `unsupportedOpset` for an opset outside the range; `unsupportedOpVersion`
    ///   for an op the opset lacks (e.g. `Gelu` below 20) or a newer-form attribute it cannot
    ///   express; `invalidModel` for a malformed `dpu_subgraph`.
    public static func export(_ graph: Graph, opset: Int) throws -> Data {
        let model = try modelProto(graph, opset: opset)
        do {
            return try model.serializedData()
        } catch {
            throw KilnError(.writeFailed, "cannot serialize the ONNX model: \(error)")
        }
    }

    /// The `ModelProto` of ``export(_:opset:)``, before serialization.
    package static func modelProto(_ graph: Graph, opset: Int) throws -> Onnx_ModelProto {
        guard (oldestOpset...ONNXImporter.newestOpset).contains(opset) else {
            throw KilnError(
                .unsupportedOpset,
                "cannot export opset \(opset): Kiln exports opsets \(oldestOpset)…\(ONNXImporter.newestOpset)")
        }
        let (flat, _) = try graph.inliningDPUSubgraphs()
        var emitter = GraphEmitter(opset: opset, names: NameAllocator(collecting: flat))
        var model = Onnx_ModelProto()
        model.irVersion = Int64(irVersion)
        model.producerName = "kiln"
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.domain = ""
        opsetID.version = Int64(opset)
        model.opsetImport = [opsetID]
        model.graph = try emitter.emit(flat)
        return model
    }
}

/// Unique names for values and nodes the export creates.
struct NameAllocator {
    private var taken: Set<String> = []

    /// Reserves every value and node name of `graph` and its subgraphs.
    init(collecting graph: Graph) {
        reserve(graph)
    }

    private mutating func reserve(_ graph: Graph) {
        for value in graph.values { taken.insert(value.name) }
        for node in graph.nodes {
            taken.insert(node.name)
            for case .graph(let body) in node.attributes.values.values { reserve(body) }
        }
    }

    /// `base`, or `base_1`, `base_2`, …: the first name not yet used; reserves it.
    mutating func fresh(_ base: String) -> String {
        var name = base
        var suffix = 0
        while taken.contains(name) {
            suffix += 1
            name = "\(base)_\(suffix)"
        }
        taken.insert(name)
        return name
    }
}

/// What an op's export rule may ask about, and add to, the graph being written.
struct ExportScope {
    /// The opset being written.
    let opset: Int
    /// Types of the graph's values, by name.
    let types: [String: TensorType]
    /// The graph's constants, by name.
    private(set) var constants: [String: Tensor]
    /// Constants the rules added, in order.
    private(set) var addedConstants: [(name: String, tensor: Tensor)] = []
    /// Fresh names.
    var names: NameAllocator

    init(opset: Int, types: [String: TensorType], constants: [String: Tensor], names: NameAllocator) {
        self.opset = opset
        self.types = types
        self.constants = constants
        self.names = names
    }

    /// Adds an initializer and returns its (fresh) name.
    mutating func addConstant(_ tensor: Tensor, base: String) -> String {
        let name = names.fresh(base)
        addedConstants.append((name, tensor))
        constants[name] = tensor
        return name
    }

    /// The element type of value `name`, float32 when unknown.
    func dtype(of name: String) -> DType {
        types[name]?.dtype ?? .float32
    }
}

/// Writes one graph (and, recursively, its subgraphs) as a `GraphProto`.
struct GraphEmitter {
    let opset: Int
    var names: NameAllocator

    mutating func emit(_ graph: Graph) throws -> Onnx_GraphProto {
        var proto = Onnx_GraphProto()
        proto.name = graph.name
        var types: [String: TensorType] = [:]
        for value in graph.values { types[value.name] = value.type }
        var constants: [String: Tensor] = [:]
        for (id, tensor) in graph.initializers { constants[graph[id].name] = tensor }
        var scope = ExportScope(opset: opset, types: types, constants: constants, names: names)

        proto.input = graph.inputs.map { Self.valueInfo(graph[$0]) }
        proto.output = graph.outputs.map { Self.valueInfo(graph[$0]) }
        for node in graph.nodes {
            let written = try OpExporters.lower(onnxNode(node, graph), kind: node.op, &scope)
            for onnx in written {
                proto.node.append(try nodeProto(onnx, &scope))
            }
        }
        names = scope.names

        // Initializers something reads (rules may have turned constant inputs into attributes).
        var read = Set(proto.input.map(\.name) + proto.output.map(\.name))
        Self.collectReads(proto.node, into: &read)
        for id in graph.initializers.keys.sorted() where read.contains(graph[id].name) {
            if let tensor = graph.initializers[id] {
                proto.initializer.append(TensorProtoEncoder.encode(tensor, name: graph[id].name))
            }
        }
        for (name, tensor) in scope.addedConstants where read.contains(name) {
            proto.initializer.append(TensorProtoEncoder.encode(tensor, name: name))
        }

        // value_info: every typed value a node of this graph makes that is not a graph output.
        let outputs = Set(graph.outputs)
        for node in graph.nodes {
            for case let id? in node.outputs where !outputs.contains(id) && graph[id].type.dtype != nil {
                proto.valueInfo.append(Self.valueInfo(graph[id]))
            }
        }
        return proto
    }

    /// Every name the nodes read, in subgraphs too (a body reads outer values by name).
    private static func collectReads(_ nodes: [Onnx_NodeProto], into names: inout Set<String>) {
        for node in nodes {
            names.formUnion(node.input)
            for attribute in node.attribute where attribute.hasG {
                collectReads(attribute.g.node, into: &names)
                names.formUnion(attribute.g.output.map(\.name))
            }
        }
    }

    /// The IR node with names instead of ids and the ONNX op type.
    private func onnxNode(_ node: Node, _ graph: Graph) throws -> ONNXNode {
        guard let opType = OpExporters.onnxNames[node.op] else {
            throw KilnError(.unsupportedOp, "[\(node.op)] node '\(node.name)': no ONNX operator for \(node.op)")
        }
        return ONNXNode(
            opType: opType, name: node.name, inputs: node.inputs.map { $0.map { graph[$0].name } ?? "" },
            outputs: node.outputs.map { $0.map { graph[$0].name } ?? "" }, attributes: node.attributes,
            version: 0, opset: opset)
    }

    private mutating func nodeProto(_ node: ONNXNode, _ scope: inout ExportScope) throws -> Onnx_NodeProto {
        guard let since = OpsetHistory.versions[node.opType]?.first, since <= opset else {
            let first = OpsetHistory.versions[node.opType]?.first.map { " (it exists from opset \($0))" } ?? ""
            throw node.error(
                .unsupportedOpVersion,
                "\(node.opType) does not exist in opset \(opset)\(first); export at a newer opset")
        }
        var proto = Onnx_NodeProto()
        proto.opType = node.opType
        proto.name = node.name
        proto.input = Self.trimmed(node.inputs)
        proto.output = Self.trimmed(node.outputs)
        names = scope.names
        for key in node.attributes.values.keys.sorted() {
            guard let value = node.attributes.values[key] else { continue }
            proto.attribute.append(try attributeProto(key, value))
        }
        scope.names = names
        return proto
    }

    /// Drops trailing omitted operands (`""`); inner ones stay as ONNX spells them.
    private static func trimmed(_ names: [String]) -> [String] {
        var names = names
        while names.last == "" { names.removeLast() }
        return names
    }

    private mutating func attributeProto(_ name: String, _ value: AttributeValue) throws -> Onnx_AttributeProto {
        var proto = Onnx_AttributeProto()
        proto.name = name
        switch value {
        case .int(let value):
            proto.type = .int
            proto.i = Int64(value)
        case .float(let value):
            proto.type = .float
            proto.f = value
        case .string(let value):
            proto.type = .string
            proto.s = Data(value.utf8)
        case .ints(let values):
            proto.type = .ints
            proto.ints = values.map { Int64($0) }
        case .floats(let values):
            proto.type = .floats
            proto.floats = values
        case .strings(let values):
            proto.type = .strings
            proto.strings = values.map { Data($0.utf8) }
        case .tensor(let tensor):
            proto.type = .tensor
            proto.t = TensorProtoEncoder.encode(tensor, name: "")
        case .graph(let body):
            proto.type = .graph
            proto.g = try emit(body)
        }
        return proto
    }

    /// A `ValueInfoProto` with the dtype and shape known for `value`.
    static func valueInfo(_ value: Value) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = value.name
        guard let dtype = value.type.dtype else { return info }
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = TensorProtoEncoder.code(dtype)
        if let shape = value.type.shape {
            var shapeProto = Onnx_TensorShapeProto()
            shapeProto.dim = shape.map { dim in
                var proto = Onnx_TensorShapeProto.Dimension()
                switch dim {
                case .known(let size): proto.dimValue = Int64(size)
                case .symbol(let symbol): proto.dimParam = symbol
                case .unknown: break
                }
                return proto
            }
            tensorType.shape = shapeProto
        }
        info.type.tensorType = tensorType
        return info
    }
}
