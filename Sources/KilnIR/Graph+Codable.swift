import KilnCore

/// The stable, versioned, `Codable` form of a ``Graph``, with every tensor replaced by a
/// constant symbol.
///
/// This is how a graph travels inside a `.kiln` artifact: the document holds the structure
/// (values with their types, nodes, attributes, nested graphs) and names each tensor by a
/// string symbol; the tensors themselves live apart, in the artifact's constants section,
/// owned by the metadata module (TVM's MetadataModule: code and weights kept apart).
///
/// ```swift
/// let (document, constants) = graph.encodedWithoutConstants(symbolPrefix: "cpu0/")
/// let json = try JSONEncoder().encode(document)
/// let back = try Graph(document: JSONDecoder().decode(GraphDocument.self, from: json), constants: constants)
/// // back == graph
/// ```
///
/// ### Evolution
/// Fields are only ever added, and added fields are optional, so an older document still
/// decodes. ``version`` changes only for a change an older reader cannot ignore; a reader
/// refuses a document whose version is newer than ``currentVersion``.
public struct GraphDocument: Codable, Hashable, Sendable {
    /// The version this Kiln writes and the newest it reads.
    public static let currentVersion = 1

    /// The document's version (``currentVersion`` when written by this Kiln).
    public var version: Int
    /// The graph's name.
    public var name: String
    /// Every value, in ``ValueID`` order.
    public var values: [ValueRecord]
    /// Nodes in topological order.
    public var nodes: [NodeRecord]
    /// Indices of the graph inputs.
    public var inputs: [Int]
    /// Indices of the graph outputs.
    public var outputs: [Int]
    /// The initializers, by value index, each naming its constant.
    public var initializers: [InitializerRecord]
    /// Indices of the values captured from an enclosing graph.
    public var captures: [Int]

    /// A value: its name and type.
    public struct ValueRecord: Codable, Hashable, Sendable {
        /// The value's name.
        public var name: String
        /// The element type, absent when unknown.
        public var dtype: DType?
        /// The dimensions, absent when the rank is unknown.
        public var shape: [DimRecord]?
    }

    /// One dimension: a JSON number (known), a string (symbolic) or `null` (unknown).
    public struct DimRecord: Codable, Hashable, Sendable {
        /// The dimension.
        public var dim: Dim

        /// Wraps a dimension.
        public init(_ dim: Dim) { self.dim = dim }

        /// Decodes a number, a string or `null`.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                dim = .unknown
            } else if let value = try? container.decode(Int.self) {
                dim = .known(value)
            } else {
                dim = .symbol(try container.decode(String.self))
            }
        }

        /// Encodes a number, a string or `null`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch dim {
            case .known(let value): try container.encode(value)
            case .symbol(let name): try container.encode(name)
            case .unknown: try container.encodeNil()
            }
        }
    }

    /// A node; inputs and outputs are value indices, `null` for an omitted optional one.
    public struct NodeRecord: Codable, Hashable, Sendable {
        /// The node's name.
        public var name: String
        /// The ``OpKind`` raw value.
        public var op: String
        /// Operand value indices.
        public var inputs: [Int?]
        /// Result value indices.
        public var outputs: [Int?]
        /// Attributes by name.
        public var attributes: [String: AttributeRecord]
    }

    /// An initializer: the value it defines and the symbol of its constant.
    public struct InitializerRecord: Codable, Hashable, Sendable {
        /// The value index.
        public var value: Int
        /// The constant's symbol.
        public var constant: String
    }

    /// An attribute value, encoded as an object with exactly one key naming its kind:
    /// `{"int": 3}`, `{"floats": [0.5]}`, `{"tensor": "cpu0/w"}`, `{"graph": {…}}`.
    public enum AttributeRecord: Codable, Hashable, Sendable {
        case int(Int)
        case float(FloatRecord)
        case string(String)
        case ints([Int])
        case floats([FloatRecord])
        case strings([String])
        /// A tensor, by constant symbol.
        case tensor(String)
        case graph(GraphDocument)

        private enum CodingKeys: String, CodingKey {
            case int, float, string, ints, floats, strings, tensor, graph
        }

        /// Decodes the one-key object.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            guard container.allKeys.count == 1, let key = container.allKeys.first else {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: decoder.codingPath,
                    debugDescription: "an attribute has exactly one of int, float, string, ints, floats, strings, tensor, graph"))
            }
            switch key {
            case .int: self = .int(try container.decode(Int.self, forKey: key))
            case .float: self = .float(try container.decode(FloatRecord.self, forKey: key))
            case .string: self = .string(try container.decode(String.self, forKey: key))
            case .ints: self = .ints(try container.decode([Int].self, forKey: key))
            case .floats: self = .floats(try container.decode([FloatRecord].self, forKey: key))
            case .strings: self = .strings(try container.decode([String].self, forKey: key))
            case .tensor: self = .tensor(try container.decode(String.self, forKey: key))
            case .graph: self = .graph(try container.decode(GraphDocument.self, forKey: key))
            }
        }

        /// Encodes the one-key object.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .int(let value): try container.encode(value, forKey: .int)
            case .float(let value): try container.encode(value, forKey: .float)
            case .string(let value): try container.encode(value, forKey: .string)
            case .ints(let value): try container.encode(value, forKey: .ints)
            case .floats(let value): try container.encode(value, forKey: .floats)
            case .strings(let value): try container.encode(value, forKey: .strings)
            case .tensor(let symbol): try container.encode(symbol, forKey: .tensor)
            case .graph(let document): try container.encode(document, forKey: .graph)
            }
        }
    }

    /// A `Float` that survives JSON exactly: a finite value is written as the `Double` it
    /// equals (whose shortest decimal form parses back to the same bits), a non-finite one
    /// as `"nan"`, `"inf"` or `"-inf"` (JSON has no such numbers). Records compare by bit
    /// pattern, so a document equals itself even with a NaN, and `-0.0` differs from `0.0`.
    public struct FloatRecord: Codable, Hashable, Sendable {
        /// The value.
        public var value: Float

        /// Wraps a value.
        public init(_ value: Float) { self.value = value }

        /// Equal bit patterns.
        public static func == (lhs: FloatRecord, rhs: FloatRecord) -> Bool {
            lhs.value.bitPattern == rhs.value.bitPattern
        }

        /// Hashes the bit pattern.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(value.bitPattern)
        }

        /// Decodes a number or one of the three strings.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) {
                value = Float(number)
                return
            }
            switch try container.decode(String.self) {
            case "nan": value = .nan
            case "inf": value = .infinity
            case "-inf": value = -.infinity
            case let other:
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "'\(other)' is not a float")
            }
        }

        /// Encodes a number or one of the three strings.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            if value.isNaN {
                try container.encode("nan")
            } else if value.isInfinite {
                try container.encode(value < 0 ? "-inf" : "inf")
            } else {
                try container.encode(Double(value))
            }
        }
    }
}

extension Graph {
    /// The graph as a ``GraphDocument`` whose tensors (initializers and tensor attributes,
    /// nested graphs included) are named by symbols, and those tensors by symbol.
    ///
    /// Symbols are `symbolPrefix` + the value name for an initializer, + `node.attribute`
    /// for a tensor attribute, with `node.attribute/` added per level of nesting; a clash
    /// gets a `~n` suffix. The walk is in a fixed order (initializers by value index, nodes
    /// in order, attributes by name), so the same graph always gets the same symbols.
    ///
    /// - Parameter symbolPrefix: Makes the symbols unique among the artifact's modules,
    ///   e.g. `"cpu0/"`.
    /// - Returns: The document and the constants it names.
    public func encodedWithoutConstants(symbolPrefix: String) -> (GraphDocument, [String: Tensor]) {
        var symbols = SymbolTable()
        let document = encode(path: symbolPrefix, symbols: &symbols)
        return (document, symbols.constants)
    }

    private func encode(path: String, symbols: inout SymbolTable) -> GraphDocument {
        let valueRecords = values.map { value in
            GraphDocument.ValueRecord(
                name: value.name, dtype: value.type.dtype,
                shape: value.type.shape?.map(GraphDocument.DimRecord.init))
        }
        let initializerRecords = initializers.keys.sorted().compactMap { id -> GraphDocument.InitializerRecord? in
            guard let tensor = initializers[id] else { return nil }
            let symbol = symbols.add(tensor, as: path + self[id].name)
            return GraphDocument.InitializerRecord(value: id.index, constant: symbol)
        }
        let nodeRecords = nodes.map { node in
            var attributes: [String: GraphDocument.AttributeRecord] = [:]
            for name in node.attributes.values.keys.sorted() {
                guard let value = node.attributes.values[name] else { continue }
                let base = path + node.name + "." + name
                attributes[name] = switch value {
                case .int(let value): .int(value)
                case .float(let value): .float(.init(value))
                case .string(let value): .string(value)
                case .ints(let value): .ints(value)
                case .floats(let value): .floats(value.map(GraphDocument.FloatRecord.init))
                case .strings(let value): .strings(value)
                case .tensor(let tensor): .tensor(symbols.add(tensor, as: base))
                case .graph(let body): .graph(body.encode(path: base + "/", symbols: &symbols))
                }
            }
            return GraphDocument.NodeRecord(
                name: node.name, op: node.op.rawValue, inputs: node.inputs.map { $0?.index },
                outputs: node.outputs.map { $0?.index }, attributes: attributes)
        }
        return GraphDocument(
            version: GraphDocument.currentVersion, name: name, values: valueRecords, nodes: nodeRecords,
            inputs: inputs.map(\.index), outputs: outputs.map(\.index), initializers: initializerRecords,
            captures: captures.map(\.index))
    }

    /// Rebuilds a graph from its document and the constants it names.
    ///
    /// Every index is checked against the value list and every op name against ``OpKind``,
    /// so a document from a damaged or foreign file is an error, never a crash.
    ///
    /// - Parameters:
    ///   - document: The document, as ``encodedWithoutConstants(symbolPrefix:)`` made it.
    ///   - constants: At least the tensors the document names.
    /// - Throws: `artifactTooNew` for a newer document version, `constantMissing` for a
    ///   symbol not in `constants`, `artifactMalformed` for a bad index or unknown op.
    public init(document: GraphDocument, constants: [String: Tensor]) throws {
        guard document.version <= GraphDocument.currentVersion else {
            throw KilnError(
                .artifactTooNew,
                "graph '\(document.name)' has document version \(document.version); "
                    + "this Kiln reads up to \(GraphDocument.currentVersion)")
        }
        self.init(name: document.name)
        let count = document.values.count
        func id(_ index: Int, _ role: String) throws -> ValueID {
            guard (0..<count).contains(index) else {
                throw KilnError(
                    .artifactMalformed,
                    "graph '\(document.name)': \(role) names value \(index), but the graph has \(count) values")
            }
            return ValueID(index)
        }
        func constant(_ symbol: String) throws -> Tensor {
            guard let tensor = constants[symbol] else {
                throw KilnError(.constantMissing, "graph '\(document.name)' names constant '\(symbol)', which is missing")
            }
            return tensor
        }
        values = document.values.map { record in
            Value(name: record.name, type: TensorType(dtype: record.dtype, shape: record.shape?.map(\.dim)))
        }
        inputs = try document.inputs.map { try id($0, "an input") }
        outputs = try document.outputs.map { try id($0, "an output") }
        captures = try document.captures.map { try id($0, "a capture") }
        for record in document.initializers {
            initializers[try id(record.value, "an initializer")] = try constant(record.constant)
        }
        nodes = try document.nodes.map { record in
            guard let op = OpKind(rawValue: record.op) else {
                throw KilnError(
                    .artifactMalformed,
                    "graph '\(document.name)': node '\(record.name)' has op '\(record.op)', "
                        + "which this Kiln does not know (written by a newer Kiln?)")
            }
            var attributes = Attributes()
            for (name, value) in record.attributes {
                attributes[name] = switch value {
                case .int(let value): .int(value)
                case .float(let value): .float(value.value)
                case .string(let value): .string(value)
                case .ints(let value): .ints(value)
                case .floats(let value): .floats(value.map(\.value))
                case .strings(let value): .strings(value)
                case .tensor(let symbol): .tensor(try constant(symbol))
                case .graph(let body): .graph(try Graph(document: body, constants: constants))
                }
            }
            let role = "node '\(record.name)'"
            return Node(
                name: record.name, op: op, inputs: try record.inputs.map { try $0.map { try id($0, role) } },
                outputs: try record.outputs.map { try $0.map { try id($0, role) } }, attributes: attributes)
        }
    }
}

extension GraphDocument {
    /// Every constant symbol the document names, nested graphs included, sorted.
    public var constantSymbols: [String] {
        var symbols = Set(initializers.map(\.constant))
        func collect(_ attributes: [String: AttributeRecord]) {
            for value in attributes.values {
                switch value {
                case .tensor(let symbol): symbols.insert(symbol)
                case .graph(let body): symbols.formUnion(body.constantSymbols)
                default: break
                }
            }
        }
        for node in nodes { collect(node.attributes) }
        return symbols.sorted()
    }
}

/// Hands out unique symbols while walking a graph.
private struct SymbolTable {
    var constants: [String: Tensor] = [:]

    mutating func add(_ tensor: Tensor, as base: String) -> String {
        var symbol = base
        var suffix = 1
        while constants[symbol] != nil {
            symbol = "\(base)~\(suffix)"
            suffix += 1
        }
        constants[symbol] = tensor
        return symbol
    }
}
