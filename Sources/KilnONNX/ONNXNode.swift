import KilnCore
import KilnIR

/// An ONNX node on its way into the IR: names instead of ids, so an op's importer can
/// rewrite an old op version into the newest form (move an attribute to a constant
/// input, rename, fill defaults) before the graph is built.
package struct ONNXNode {
    /// The ONNX `op_type`.
    package var opType: String
    /// The node name (generated when the model has none).
    package var name: String
    /// Input names; `""` is an omitted optional input.
    package var inputs: [String]
    /// Output names; `""` is an output nobody asked for.
    package var outputs: [String]
    /// Attributes, by ONNX name.
    package var attributes: Attributes
    /// The op version the node resolved to (newest change ≤ the model's opset).
    package var version: Int
    /// The model's opset for the default domain.
    package var opset: Int
    /// Constants the rewrite introduced, to become initializers.
    package var constants: [(name: String, tensor: Tensor)] = []

    /// Sets input `index` to a new constant, padding with omitted inputs as needed.
    package mutating func setConstantInput(_ index: Int, _ tensor: Tensor, suffix: String) {
        let constantName = "\(name)::\(suffix)"
        constants.append((constantName, tensor))
        while inputs.count <= index { inputs.append("") }
        inputs[index] = constantName
    }

    /// Moves an integer-list attribute into input `index` as an int64 constant.
    package mutating func moveIntsAttributeToInput(_ attribute: String, _ index: Int) throws {
        guard let values = try attributes.ints(attribute) else { return }
        attributes[attribute] = nil
        setConstantInput(index, Tensor(shape: [values.count], scalars: values.map { Int64($0) }), suffix: attribute)
    }

    /// An error that names the op, the node and the opset, as every import error should.
    package func error(_ code: ErrorCode, _ message: String) -> KilnError {
        KilnError(code, "[\(opType)] node '\(name)' (opset \(opset)): \(message)")
    }
}

/// How one ONNX operator enters the IR.
package struct OpImporter: Sendable {
    /// The ONNX `op_type`.
    package let onnxName: String
    /// The IR op it becomes.
    package let kind: OpKind
    /// The op versions (change points, see `OpsetHistory`) whose semantics Kiln
    /// implements; a node resolving to another version is rejected with
    /// `unsupportedOpVersion`.
    package let versions: Set<Int>
    /// Rewrites an older version's node into the newest form; `nil` when no rewrite is needed.
    package let normalize: (@Sendable (inout ONNXNode) throws -> Void)?

    /// Creates an importer.
    package init(
        _ onnxName: String, _ kind: OpKind, versions: Set<Int>,
        normalize: (@Sendable (inout ONNXNode) throws -> Void)? = nil
    ) {
        self.onnxName = onnxName
        self.kind = kind
        self.versions = versions
        self.normalize = normalize
    }
}

/// The importer table, assembled from the op-family files (`Import+<Family>.swift`).
package enum OpImporters {
    /// Every importer, by ONNX op type.
    package static let table: [String: OpImporter] = {
        var table: [String: OpImporter] = [:]
        for importer in elementwise + nn + dataMovement + control {
            table[importer.onnxName] = importer
        }
        return table
    }()
}
