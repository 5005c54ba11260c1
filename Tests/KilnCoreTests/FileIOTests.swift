import Foundation
import KilnCore
import Testing

/// Atomic writes: a new file, an existing file replaced whole, and a failure that leaves the
/// old file as it was and no temporary behind.
struct FileIOTests {
    private func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-fileio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func writesAndReplaces() throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("out.bin")
        try FileIO.writeAtomically(Data([1, 2, 3]), to: url)
        #expect(try FileIO.read(url) == Data([1, 2, 3]))
        try FileIO.writeAtomically(Data([4, 5]), to: url)
        #expect(try FileIO.read(url) == Data([4, 5]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["out.bin"])
    }

    @Test func failureKeepsTheOldFile() throws {
        let folder = try directory()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A directory in the way: the rename fails; nothing else changes.
        let blocked = folder.appendingPathComponent("blocked")
        try FileManager.default.createDirectory(at: blocked.appendingPathComponent("inside"), withIntermediateDirectories: true)
        #expect(throws: KilnError.self) { try FileIO.writeAtomically(Data([9]), to: blocked) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["blocked"])
    }
}
