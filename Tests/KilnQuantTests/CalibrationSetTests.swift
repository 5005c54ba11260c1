import Foundation
import KilnCore
import KilnIR
import KilnQuant
import KilnTestSupport
import Testing

/// Loading calibration data, and rejecting bad data with a coded error before any work.
@Suite struct CalibrationSetTests {
    /// `y = x + z` with `x: [1, 3]` and `z: [batch, 3]`.
    static func twoInputs() throws -> Graph {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 3])
        builder.input("z", .float32, ["batch", 3])
        builder.node("Add", ["x", "z"], ["y"])
        builder.output("y", .float32, [1, 3])
        return try QuantTestData.graph(builder)
    }

    /// `y = relu(x)` with `x: [1, 3]`.
    static func oneInput() throws -> Graph {
        var builder = ONNXModelBuilder(opset: 13)
        builder.input("x", .float32, [1, 3])
        builder.node("Relu", ["x"], ["y"])
        builder.output("y", .float32, [1, 3])
        return try QuantTestData.graph(builder)
    }

    static func floats(_ shape: [Int], start: Float = 0) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { start + Float($0) })
    }

    /// A fresh temporary directory.
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-calib-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func load(_ arrays: [String: Tensor], _ graph: Graph, limit: Int? = nil) throws -> CalibrationSet {
        let url = try directory().appendingPathComponent("calib.npz")
        try NPZ.write(arrays, to: url)
        return try CalibrationSet.load(contentsOf: url, for: graph, limit: limit)
    }

    @Test func archiveAxesCountSamples() throws {
        let graph = try Self.twoInputs()
        // x has one more axis than the input (samples first); z has the input's rank (batch slices).
        let set = try Self.load(["x": Self.floats([4, 1, 3]), "z": Self.floats([4, 3], start: 100)], graph)
        #expect(set.samples.count == 4)
        #expect(set.samples[2]["x"] == Tensor(shape: [1, 3], scalars: [6, 7, 8] as [Float]))
        #expect(set.samples[2]["z"] == Tensor(shape: [1, 3], scalars: [106, 107, 108] as [Float]))
        #expect(
            try Self.load(["x": Self.floats([4, 1, 3]), "z": Self.floats([4, 3])], graph, limit: 3).samples.count == 3)
    }

    @Test func directoryHoldsOneSamplePerFile() throws {
        let folder = try Self.directory()
        for index in 0..<3 {
            try FileIO.writeAtomically(
                NPY.encode(Self.floats([1, 3], start: Float(index))), to: folder.appendingPathComponent("s\(index).npy")
            )
        }
        try Data("notes".utf8).write(to: folder.appendingPathComponent("README.txt"))
        let set = try CalibrationSet.load(contentsOf: folder, for: try Self.oneInput(), limit: 2)
        #expect(set.samples.count == 2)
        #expect(set.samples[1]["x"] == Self.floats([1, 3], start: 1))

        let archives = try Self.directory()
        for index in 0..<2 {
            try NPZ.write(
                ["x": Self.floats([1, 3]), "z": Self.floats([2, 3])],
                to: archives.appendingPathComponent("\(index).npz"))
        }
        #expect(try CalibrationSet.load(contentsOf: archives, for: try Self.twoInputs(), limit: nil).samples.count == 2)
    }

    /// Archives that must fail, with the code.
    static let badArchives: [([String: Tensor], ErrorCode)] = [
        (["x": Self.floats([2, 1, 3]), "q": Self.floats([2, 1, 3])], ErrorCode.badCalibrationData),  // unknown input
        (["x": Self.floats([2, 1, 3])], .badCalibrationData),  // z missing
        (["x": Tensor(zeros: [2, 1, 3], dtype: .float64), "z": Self.floats([2, 3])], .badCalibrationData),  // dtype
        (["x": Self.floats([2, 1, 4]), "z": Self.floats([2, 3])], .badCalibrationData),  // shape
        (["x": Self.floats([2, 2, 3, 1]), "z": Self.floats([2, 3])], .badCalibrationData),  // rank
        (["x": Self.floats([3, 1, 3]), "z": Self.floats([2, 3])], .badCalibrationData),  // sample counts differ
        (["x": Self.floats([0, 1, 3]), "z": Self.floats([0, 3])], .emptyCalibrationSet),
        (
            ["x": Tensor(shape: [1, 1, 3], scalars: [0, .nan, 1] as [Float]), "z": Self.floats([1, 3])],
            .nonFiniteCalibrationData
        ),
        (
            ["x": Self.floats([1, 1, 3]), "z": Tensor(shape: [1, 3], scalars: [0, 1, .infinity] as [Float])],
            .nonFiniteCalibrationData
        ),
    ]

    @Test(arguments: badArchives)
    func badArchivesFailWithACode(_ arrays: [String: Tensor], _ code: ErrorCode) throws {
        let graph = try Self.twoInputs()
        let error = #expect(throws: KilnError.self) { try Self.load(arrays, graph) }
        #expect(error?.code == code)
    }

    @Test func badDirectoriesAndLimitsFailWithACode() throws {
        let empty = try Self.directory()
        #expect(
            (#expect(throws: KilnError.self) {
                try CalibrationSet.load(contentsOf: empty, for: try Self.oneInput(), limit: nil)
            })?.code == .emptyCalibrationSet)

        let npyForTwoInputs = try Self.directory()
        try FileIO.writeAtomically(
            NPY.encode(Self.floats([1, 3])), to: npyForTwoInputs.appendingPathComponent("a.npy"))
        #expect(
            (#expect(throws: KilnError.self) {
                try CalibrationSet.load(contentsOf: npyForTwoInputs, for: try Self.twoInputs(), limit: nil)
            })?.code == .badCalibrationData)

        #expect(
            (#expect(throws: KilnError.self) {
                try Self.load(["x": Self.floats([1, 1, 3])], try Self.oneInput(), limit: 0)
            })?.code == .badCalibrationData)
        #expect(
            (#expect(throws: KilnError.self) { try CalibrationSet(samples: [], for: try Self.oneInput()) })?.code
                == .emptyCalibrationSet)
        let missing = URL(fileURLWithPath: "/nonexistent/calib.npz")
        #expect(
            (#expect(throws: KilnError.self) {
                try CalibrationSet.load(contentsOf: missing, for: try Self.oneInput(), limit: nil)
            })?.code == .fileNotFound)
    }
}
