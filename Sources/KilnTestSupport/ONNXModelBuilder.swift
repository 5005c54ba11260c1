import Foundation
import KilnCore
import KilnONNX
import KilnONNXProto
import SwiftProtobuf

/// Builds small ONNX models in tests without Python.
///
/// ```swift
/// var builder = ONNXModelBuilder(opset: 13)
/// builder.input("x", .float32, [1, 4])
/// builder.node("Relu", ["x"], ["y"])
/// builder.output("y", .float32, [1, 4])
/// let data = try builder.serialized()
/// ```
public struct ONNXModelBuilder {
    /// The model being built.
    public var model = Onnx_ModelProto()

    /// Starts a model with one graph and the default-domain opset.
    public init(opset: Int, irVersion: Int = 8) {
        model.irVersion = Int64(irVersion)
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.domain = ""
        opsetID.version = Int64(opset)
        model.opsetImport = [opsetID]
        model.producerName = "kiln-tests"
        model.graph.name = "test"
    }

    /// Declares a graph input; `shape` entries are numbers or symbol names.
    public mutating func input(_ name: String, _ dtype: DType, _ shape: [ShapeEntry]) {
        model.graph.input.append(Self.valueInfo(name, dtype, shape))
    }

    /// Declares a graph output.
    public mutating func output(_ name: String, _ dtype: DType, _ shape: [ShapeEntry]) {
        model.graph.output.append(Self.valueInfo(name, dtype, shape))
    }

    /// Adds an initializer (raw little-endian data).
    public mutating func initializer(_ name: String, _ tensor: Tensor) {
        model.graph.initializer.append(Self.tensorProto(name, tensor))
    }

    /// Adds a node with integer, float, ints or string attributes.
    public mutating func node(
        _ op: String, _ inputs: [String], _ outputs: [String], name: String? = nil,
        domain: String = "", attributes: [String: AttributeSpec] = [:]
    ) {
        var node = Onnx_NodeProto()
        node.opType = op
        node.input = inputs
        node.output = outputs
        node.domain = domain
        node.name = name ?? "\(op.lowercased())_\(model.graph.node.count)"
        for (key, value) in attributes.sorted(by: { $0.key < $1.key }) {
            var attribute = Onnx_AttributeProto()
            attribute.name = key
            switch value {
            case .int(let v):
                attribute.type = .int
                attribute.i = Int64(v)
            case .float(let v):
                attribute.type = .float
                attribute.f = v
            case .ints(let v):
                attribute.type = .ints
                attribute.ints = v.map { Int64($0) }
            case .string(let v):
                attribute.type = .string
                attribute.s = Data(v.utf8)
            }
            node.attribute.append(attribute)
        }
        model.graph.node.append(node)
    }

    /// The serialized model.
    public func serialized() throws -> Data {
        try model.serializedData()
    }

    /// A dimension: a number or a symbol.
    public enum ShapeEntry: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
        case known(Int)
        case symbol(String)
        public init(integerLiteral value: Int) { self = .known(value) }
        public init(stringLiteral value: String) { self = .symbol(value) }
    }

    /// An attribute value.
    public enum AttributeSpec {
        case int(Int)
        case float(Float)
        case ints([Int])
        case string(String)
    }

    static func onnxType(_ dtype: DType) -> Int32 {
        TensorProtoEncoder.code(dtype)
    }

    static func valueInfo(_ name: String, _ dtype: DType, _ shape: [ShapeEntry]) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = onnxType(dtype)
        var shapeProto = Onnx_TensorShapeProto()
        shapeProto.dim = shape.map { entry in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch entry {
            case .known(let value): dim.dimValue = Int64(value)
            case .symbol(let name): dim.dimParam = name
            }
            return dim
        }
        tensorType.shape = shapeProto
        info.type.tensorType = tensorType
        return info
    }

    /// A `TensorProto` with raw data.
    public static func tensorProto(_ name: String, _ tensor: Tensor) -> Onnx_TensorProto {
        TensorProtoEncoder.encode(tensor, name: name)
    }
}
