import Foundation
import KilnCore
import KilnIR
import KilnRuntime
import KilnTestSupport
import Testing

/// Sizes and load time of a few-megabyte artifact, printed for the record (no time bound).
@Suite struct ArtifactSizeTests {
    @Test func aFewMegabyteArtifactLoads() throws {
        var graph = SampleGraphs.convolution()
        for index in 0..<8 {
            let id = graph.addValue(Value(name: "big\(index)", type: TensorType(dtype: .float32, shape: [128, 1024])))
            graph.initializers[id] = SampleGraphs.ramp(shape: [128, 1024], scale: Float(index))
        }
        let tree = try ModuleTree(modules: [CPUModule(name: "cpu0", graph: graph), ArtifactFixtures.dpuModule()])
        let directory = try ArtifactFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("big.kiln")
        let clock = ContinuousClock()
        let writeTime = try clock.measure { try ArtifactWriter.write(tree, header: ArtifactFixtures.header(), to: url) }
        var artifact: Artifact?
        let readTime = try clock.measure { artifact = try ArtifactReader.read(contentsOf: url) }
        let loaded = try #require(artifact)
        let overhead = loaded.fileLength - tree.root.constantBytes
        #expect(overhead > 0 && overhead < 64 * 1024, "\(overhead) bytes besides the constants")
        expectSameTree(loaded.tree, tree)
        print("artifact: \(loaded.fileLength) bytes (\(tree.root.constantBytes) bytes of constants, \(overhead) of the rest); write \(writeTime), load \(readTime)")
    }
}
