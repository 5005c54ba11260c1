/// A readable listing of a program, one line per instruction (for `kiln show`).
extension DPUProgram {
    /// `  12 CONV   conv1  rows 0..<14  ch 0..<16  1,234 cycles`, one line per instruction,
    /// after a header naming the target and the buffers.
    public var listing: String {
        var lines = [
            "DPU program '\(name)' for \(target) (\(fingerprint?.description ?? "no fingerprint")): "
                + "\(layers.count) layers, \(instructions.count) instructions, \(blob.count) bytes of weights",
            "  inputs: " + inputs.map { describe(buffers[$0]) }.joined(separator: ", "),
            "  outputs: " + outputs.map { describe(buffers[$0]) }.joined(separator: ", "),
        ]
        for (index, instruction) in instructions.enumerated() {
            let layer = layers.indices.contains(instruction.layer) ? layers[instruction.layer].name : "?"
            var line = "  \(pad(String(index), 5)) \(pad(instruction.opcode.rawValue, 6)) \(layer)"
            if let buffer = instruction.buffer, buffers.indices.contains(buffer) {
                line += " [\(buffers[buffer].name)]"
            }
            line += "  rows \(instruction.rows.lowerBound)..<\(instruction.rows.upperBound)"
            line += "  ch \(instruction.channels.lowerBound)..<\(instruction.channels.upperBound)"
            if instruction.bytes > 0 { line += "  \(instruction.bytes) B" }
            if instruction.cycles > 0 { line += "  \(instruction.cycles) cycles" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    private func describe(_ buffer: DPUBuffer) -> String {
        "\(buffer.name) \(buffer.shape.map(String.init).joined(separator: "x")) fix \(buffer.fixPosition)"
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
