import KilnCore
import KilnIR
import Testing

import KilnKernels

/// Einsum against a brute-force sum over every assignment of the labels.
struct EinsumTests {
    static let cases: [(String, [[Int]])] = [
        ("ij,jk->ik", [[3, 4], [4, 5]]),
        ("ij,jk", [[3, 4], [4, 5]]),
        ("bij,bjk->bik", [[2, 3, 4], [2, 4, 5]]),
        ("i,i", [[6], [6]]),
        ("i,j->ij", [[3], [4]]),
        ("ij->ji", [[3, 4]]),
        ("ij->i", [[3, 4]]),
        ("ij->", [[3, 4]]),
        ("ii->i", [[4, 4]]),
        ("ii", [[4, 4]]),
        ("...ii->...i", [[2, 3, 3]]),
        ("...ij,...jk->...ik", [[2, 1, 3, 4], [5, 4, 2]]),
        ("bhqd,bhkd->bhqk", [[2, 3, 4, 5], [2, 3, 6, 5]]),
        ("ij,jk,kl->il", [[2, 3], [3, 4], [4, 5]]),
        ("iij,jk->ik", [[3, 3, 2], [2, 4]]),
    ]

    @Test(arguments: cases.indices)
    func matchesBruteForce(index: Int) throws {
        let (text, shapes) = Self.cases[index]
        var random = TestRandom(seed: UInt64(index + 1))
        let operands = shapes.map { Tensor(shape: $0, scalars: random.floats($0.reduce(1, *)).map { Double($0) }) }
        let (labels, output) = try EinsumEquation.parse(text).resolve(ranks: shapes.map(\.count))
        let shape = try Einsum.outputShape(shapes: shapes, labels: labels, output: output)
        var actual = Tensor(zeros: shape, dtype: .float64)
        try Einsum.run(operands: operands, labels: labels, outputLabels: output, output: &actual, threads: 2)
        #expect(actual.scalars(as: Double.self).enumerated().allSatisfy { abs($0.element - bruteForce(operands, labels, output, shape)[$0.offset]) < 1e-9 }, "\(text)")
        // float32 takes the blocked GEMM.
        var single = Tensor(zeros: shape, dtype: .float32)
        let floats = operands.map { Tensor(shape: $0.shape, scalars: $0.scalars(as: Double.self).map { Float($0) }) }
        try Einsum.run(operands: floats, labels: labels, outputLabels: output, output: &single, threads: 1)
        let expected = bruteForce(operands, labels, output, shape)
        #expect(zip(single.scalars(as: Float.self), expected).allSatisfy { abs(Double($0) - $1) < 1e-4 }, "\(text) float32")
    }

    private func bruteForce(_ operands: [Tensor], _ labels: [[Int]], _ output: [Int], _ outputShape: [Int]) -> [Double] {
        var extents: [Int: Int] = [:]
        for (operand, operandLabels) in zip(operands, labels) {
            for (extent, label) in zip(operand.shape, operandLabels) { extents[label] = max(extents[label] ?? 1, extent) }
        }
        let all = extents.keys.sorted()
        var result = [Double](repeating: 0, count: max(1, outputShape.reduce(1, *)))
        var assignment = [Int: Int]()
        func visit(_ position: Int) {
            if position == all.count {
                var product = 1.0
                for (operand, operandLabels) in zip(operands, labels) {
                    let strides = Tensor.strides(operand.shape)
                    let offset = zip(operandLabels, operand.shape).enumerated().reduce(0) { sum, item in
                        sum + (item.element.1 == 1 ? 0 : (assignment[item.element.0] ?? 0) * strides[item.offset])
                    }
                    product *= operand.scalars(as: Double.self)[offset]
                }
                let outputStrides = Tensor.strides(outputShape)
                let index = output.enumerated().reduce(0) { $0 + (assignment[$1.element] ?? 0) * outputStrides[$1.offset] }
                result[index] += product
                return
            }
            for value in 0..<(extents[all[position]] ?? 1) {
                assignment[all[position]] = value
                visit(position + 1)
            }
        }
        visit(0)
        return result
    }

    @Test func rejectsMalformedEquations() {
        for text in ["ij,jk->ik->i", "i2,j", "....i", "ij->ii", "ij->k"] {
            #expect(throws: KilnError.self, "\(text)") { try EinsumEquation.parse(text) }
        }
    }
}
