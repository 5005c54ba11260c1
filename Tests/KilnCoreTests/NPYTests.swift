import Foundation
import KilnCore
import Testing

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

@Suite struct NPYTests {
    @Test func readsNumPyFiles() throws {
        let f32 = try NPY.read(contentsOf: fixtures.appendingPathComponent("f32_2x3.npy"))
        #expect(f32.shape == [2, 3] && f32.dtype == .float32)
        #expect(f32.scalars(as: Float.self) == [0, 0.25, 0.5, 0.75, 1, 1.25])

        let scalar = try NPY.read(contentsOf: fixtures.appendingPathComponent("i64_scalar.npy"))
        #expect(scalar.shape == [] && scalar.scalars(as: Int64.self) == [-7])

        let flags = try NPY.read(contentsOf: fixtures.appendingPathComponent("bool_4.npy"))
        #expect(flags.scalars(as: Bool.self) == [true, false, false, true])

        let half = try NPY.read(contentsOf: fixtures.appendingPathComponent("f16_3.npy"))
        #expect(half.scalars(as: Float16.self) == [0.5, -2, 65504])

        let bytes = try NPY.read(contentsOf: fixtures.appendingPathComponent("u8_2x2x2.npy"))
        #expect(bytes.shape == [2, 2, 2] && bytes.scalars(as: UInt8.self) == Array(0..<8))
    }

    @Test(arguments: DType.allCases)
    func roundTripsEveryDType(_ dtype: DType) throws {
        var tensor = Tensor(zeros: [3, 1, 2], dtype: dtype)
        tensor.withUnsafeMutableBytes { bytes in
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index * 37 + 1) & (dtype == .bool ? 1 : 0xFF) }
        }
        let decoded = try NPY.decode(NPY.encode(tensor))
        #expect(decoded == tensor)
    }

    @Test func headerIsAlignedTo64Bytes() {
        let data = NPY.encode(Tensor(shape: [5], scalars: [1, 2, 3, 4, 5] as [Float]))
        #expect((data.count - 20) % 64 == 0)
    }

    @Test(arguments: [
        ("truncated.npy", ErrorCode.npyMalformed),
        ("f64_big_endian.npy", ErrorCode.unsupportedDType),
        ("f32_fortran.npy", ErrorCode.unsupportedDType),
        ("pair.npz", ErrorCode.npyMalformed),
        ("missing.npy", ErrorCode.fileNotFound),
    ])
    func rejectsBadFiles(_ name: String, _ code: ErrorCode) {
        #expect {
            try NPY.read(contentsOf: fixtures.appendingPathComponent(name))
        } throws: { ($0 as? KilnError)?.code == code }
    }
}

@Suite struct NPZTests {
    @Test(arguments: ["pair.npz", "pair_compressed.npz"])
    func readsNumPyArchives(_ name: String) throws {
        let arrays = try NPZ.read(contentsOf: fixtures.appendingPathComponent(name))
        #expect(Set(arrays.keys) == ["x", "idx"])
        #expect(arrays["x"] == Tensor(shape: [2, 2], scalars: [1, 1, 1, 1] as [Float]))
        #expect(arrays["idx"] == Tensor(shape: [3], scalars: [1, 2, 3] as [Int32]))
    }

    @Test func roundTripsThroughAFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-npz-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("out.npz")
        let arrays = [
            "a/b": Tensor(shape: [2], scalars: [1.5, -2] as [Float]),
            "flags": Tensor(shape: [1], scalars: [true]),
        ]
        try NPZ.write(arrays, to: url)
        #expect(try NPZ.read(contentsOf: url) == arrays)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.npz"])
    }

    @Test func rejectsANonArchive() {
        #expect {
            try NPZ.read(contentsOf: fixtures.appendingPathComponent("f32_2x3.npy"))
        } throws: { ($0 as? KilnError)?.code == .npzMalformed }
    }
}
