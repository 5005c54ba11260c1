import KilnIR
import KilnInterpreter
import KilnONNX
import Testing

/// Every op of the closed vocabulary has an evaluator and an ONNX importer: adding an
/// `OpKind` case makes this test list the tables still to fill.
@Suite struct OpCoverageTests {
    @Test func everyOpHasAnEvaluator() {
        let missing = OpKind.allCases.filter { Evaluators.table[$0] == nil }
        #expect(missing.isEmpty, "no evaluator for \(missing)")
    }

    @Test func everyOpIsImported() {
        let imported = Set(OpImporters.table.values.map(\.kind))
        let missing = OpKind.allCases.filter { !imported.contains($0) && !OpKind.internalOnly.contains($0) }
        #expect(missing.isEmpty, "no ONNX importer for \(missing)")
    }

    @Test func importersOnlyListRealVersions() {
        for importer in OpImporters.table.values {
            let history = Set(ONNXOpsetHistory.versions(of: importer.onnxName))
            #expect(importer.versions.isSubset(of: history), "\(importer.onnxName): \(importer.versions.subtracting(history).sorted()) are not change versions")
        }
    }
}
