import Foundation

extension QuantReport {
    /// SQNR below this is drawn red: the layer likely hurts accuracy.
    static let poorSQNR = 20.0
    /// SQNR below this (and above ``poorSQNR``) is drawn orange.
    static let fairSQNR = 30.0

    /// A horizontal bar chart of the per-layer SQNR, one bar per quantized tensor in graph
    /// order, then one per model output: plain SVG 1.1 text, no scripts or external
    /// resources. Bars are red below 20 dB, orange below 30 dB, green above; exact tensors
    /// get a grey bar marked `exact`.
    ///
    /// - Returns: the SVG document.
    public func svgChart() -> String {
        let rows: [(label: String, detail: String, sqnr: Double?)] =
            layers.map { ("\($0.name)", "\($0.op) · \($0.quantization)", $0.sqnrDB) }
            + outputs.map { ("output \($0.name)", "model output", $0.sqnrDB) }
        let labelWidth = 260.0
        let barWidth = 420.0
        let rowHeight = 18.0
        let top = 48.0
        let width = labelWidth + barWidth + 90
        let height = top + Double(rows.count) * rowHeight + 36
        let finite = rows.compactMap(\.sqnr)
        let scaleMax = max(10, ((finite.max() ?? 40) / 10).rounded(.up) * 10)
        func x(_ decibels: Double) -> Double { labelWidth + barWidth * min(max(decibels, 0), scaleMax) / scaleMax }

        var svg: [String] = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
                + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            "<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">Quantization SQNR per layer (dB, "
                + "\(samples) samples; model: \(Self.escape(Self.format(modelSQNR))) dB)</text>",
        ]
        var tick = 0.0
        while tick <= scaleMax {
            let position = Self.number(x(tick))
            svg.append(
                "<line x1=\"\(position)\" y1=\"\(Int(top) - 6)\" x2=\"\(position)\" y2=\"\(Self.number(height - 30))\" "
                    + "stroke=\"#ddd\"/>")
            svg.append(
                "<text x=\"\(position)\" y=\"\(Int(top) - 10)\" text-anchor=\"middle\" fill=\"#666\">\(Int(tick))</text>"
            )
            tick += 10
        }
        for (index, row) in rows.enumerated() {
            let y = top + Double(index) * rowHeight
            let color: String
            let end: Double
            let value: String
            if let sqnr = row.sqnr {
                color = sqnr < Self.poorSQNR ? "#d62728" : (sqnr < Self.fairSQNR ? "#ff7f0e" : "#2ca02c")
                end = x(sqnr)
                value = String(format: "%.1f", sqnr)
            } else {
                color = "#bbb"
                end = x(scaleMax)
                value = "exact"
            }
            svg.append("<g><title>\(Self.escape(row.label)) (\(Self.escape(row.detail))): \(value) dB</title>")
            svg.append(
                "<text x=\"\(Self.number(labelWidth - 6))\" y=\"\(Self.number(y + 13))\" text-anchor=\"end\">"
                    + "\(Self.escape(Self.shortened(row.label, to: 38)))</text>")
            svg.append(
                "<rect x=\"\(Self.number(labelWidth))\" y=\"\(Self.number(y + 3))\" width=\"\(Self.number(max(1, end - labelWidth)))\" "
                    + "height=\"\(Self.number(rowHeight - 5))\" fill=\"\(color)\"/>")
            svg.append("<text x=\"\(Self.number(end + 4))\" y=\"\(Self.number(y + 13))\">\(value)</text></g>")
        }
        svg.append(
            "<text x=\"\(Self.number(labelWidth))\" y=\"\(Self.number(height - 12))\" fill=\"#666\">red &lt; "
                + "\(Int(Self.poorSQNR)) dB, orange &lt; \(Int(Self.fairSQNR)) dB</text>")
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    private static func number(_ value: Double) -> String { String(format: "%.1f", value) }

    private static func shortened(_ text: String, to length: Int) -> String {
        text.count <= length ? text : String(text.prefix(length - 1)) + "…"
    }

    /// `text` with XML's special characters escaped.
    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}
