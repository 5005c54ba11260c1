import KilnCore

extension Graph {
    /// A readable listing of the graph (what `kiln show MODEL.onnx` prints).
    ///
    /// ```
    /// graph main(%x: float32[batch, 3, 32, 32]) -> (%y) {
    ///   %w: float32[8, 3, 3, 3] = initializer
    ///   %y: float32[batch, 8, 32, 32] = conv(%x, %w) {pads=[1, 1, 1, 1]}   # conv0
    /// }
    /// ```
    public func printed(indent: String = "") -> String {
        var lines: [String] = []
        func ref(_ id: ValueID?) -> String { id.map { "%" + self[$0].name } ?? "_" }
        func typed(_ id: ValueID) -> String { "%\(self[id].name): \(self[id].type)" }
        let inputList = inputs.map(typed).joined(separator: ", ")
        let outputList = outputs.map { ref($0) }.joined(separator: ", ")
        lines.append("\(indent)graph \(name)(\(inputList)) -> (\(outputList)) {")
        if !captures.isEmpty {
            lines.append("\(indent)  captures \(captures.map { ref($0) }.joined(separator: ", "))")
        }
        for id in initializers.keys.sorted() {
            lines.append("\(indent)  \(typed(id)) = initializer")
        }
        for node in nodes {
            let results = node.outputs.map { $0.map(typed) ?? "_" }.joined(separator: ", ")
            let operands = node.inputs.map(ref).joined(separator: ", ")
            var attributeParts: [String] = []
            var bodies: [(String, Graph)] = []
            for key in node.attributes.values.keys.sorted() {
                guard let value = node.attributes.values[key] else { continue }
                if case .graph(let body) = value {
                    bodies.append((key, body))
                } else {
                    attributeParts.append("\(key)=\(value.printed)")
                }
            }
            let attributeText = attributeParts.isEmpty ? "" : " {\(attributeParts.joined(separator: ", "))}"
            lines.append("\(indent)  \(results) = \(node.op)(\(operands))\(attributeText)   # \(node.name)")
            for (key, body) in bodies {
                lines.append("\(indent)    \(key):")
                lines.append(body.printed(indent: indent + "    "))
            }
        }
        lines.append("\(indent)}")
        return lines.joined(separator: "\n")
    }
}

extension AttributeValue {
    /// The value as it appears in the text IR.
    var printed: String {
        func list<T>(_ items: [T]) -> String {
            items.count > 16
                ? "[" + items.prefix(16).map { "\($0)" }.joined(separator: ", ") + ", … (\(items.count))]"
                : "[" + items.map { "\($0)" }.joined(separator: ", ") + "]"
        }
        switch self {
        case .int(let value): return String(value)
        case .float(let value): return "\(value)"
        case .string(let value): return "\"\(value)\""
        case .ints(let value): return list(value)
        case .floats(let value): return list(value)
        case .strings(let value): return list(value.map { "\"\($0)\"" })
        case .tensor(let value): return "tensor<\(value)>"
        case .graph(let value): return "graph<\(value.name)>"
        }
    }
}
