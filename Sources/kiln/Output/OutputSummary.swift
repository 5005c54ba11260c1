import Foundation
import KilnCore
import KilnIR

/// Human-readable summaries and comparisons of output tensors.
enum OutputSummary {
    /// `name: float32[1, 10]  min … max … mean …  [v0, v1, …]`.
    static func describe(_ name: String, _ tensor: Tensor) -> String {
        let values = tensor.doubleScalars()
        var line = "\(name): \(tensor)"
        if let low = values.min(), let high = values.max() {
            let mean = values.reduce(0, +) / Double(values.count)
            line += String(format: "  min %.6g  max %.6g  mean %.6g", low, high, mean)
            let head = values.prefix(6).map { String(format: "%.6g", $0) }.joined(separator: ", ")
            line += "  [\(head)\(values.count > 6 ? ", …" : "")]"
        }
        return line
    }

    /// Compares outputs with expected arrays: max |a − e| ≤ tolerance × range(e) per output.
    /// Prints one line per output; returns a failure message, or `nil` when all match.
    static func compare(
        _ outputs: [String: Tensor], _ expected: [String: Tensor], tolerance: Double, graph: Graph
    ) -> String? {
        var failures: [String] = []
        for id in graph.outputs {
            let name = graph[id].name
            guard let reference = expected[name] else {
                print("\(name): not in the comparison file")
                continue
            }
            guard let actual = outputs[name], actual.shape == reference.shape else {
                failures.append("\(name): shape \(outputs[name]?.shape ?? []) != expected \(reference.shape)")
                continue
            }
            let a = actual.doubleScalars()
            let e = reference.doubleScalars()
            let range = max((e.max() ?? 0) - (e.min() ?? 0), 1e-6)
            var worst = 0.0
            for index in a.indices { worst = max(worst, Swift.abs(a[index] - e[index])) }
            if a.contains(where: \.isNaN) != e.contains(where: \.isNaN) { worst = .infinity }
            let ok = worst <= tolerance * range
            print(String(format: "%@: max abs error %.3g (%.3g of range %.4g) %@", name, worst, worst / range, range, ok ? "ok" : "MISMATCH"))
            if !ok { failures.append("\(name) differs by \(worst)") }
        }
        return failures.isEmpty ? nil : "outputs differ from the comparison file: " + failures.joined(separator: "; ")
    }
}
