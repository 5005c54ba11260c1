#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import KilnCore

/// A file mapped privately into memory (read and copy-on-write), unmapped when the last
/// reference goes: the artifact reader's bytes, and the memory its constants view in place.
///
/// A constant is read where it lies in the file: until something reads it, its pages are
/// not resident, so an artifact whose float subgraph bodies never run (their DPU programs
/// do) does not hold their weights in memory. A write to a constant's tensor touches a
/// private copy of the page, never the file.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeMutableRawPointer?
    let count: Int

    /// Maps the file at `path` (an empty file maps to no memory).
    ///
    /// - Throws: `fileUnreadable` when it is not a regular file (a pipe cannot be mapped), or
    ///   cannot be opened or mapped.
    init(path: String) throws {
        var kind = stat()
        if stat(path, &kind) == 0, kind.st_mode & S_IFMT != S_IFREG {
            throw KilnError(.fileUnreadable, "'\(path)' is not a regular file: an artifact is mapped, so pass a file, not a pipe")
        }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw KilnError(.fileUnreadable, "cannot read '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw KilnError(.fileUnreadable, "cannot read '\(path)': \(String(cString: strerror(errno)))")
        }
        count = Int(status.st_size)
        guard count > 0 else {
            base = nil
            return
        }
        let address = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw KilnError(.fileUnreadable, "cannot map '\(path)': \(String(cString: strerror(errno)))")
        }
        base = address
    }

    /// The mapped bytes, without a copy; valid while this object lives.
    var data: Data {
        guard let base else { return Data() }
        return Data(bytesNoCopy: base, count: count, deallocator: .none)
    }

    /// Drops the resident pages (after the whole file was read to verify it): each page
    /// comes back from the page cache when it is read again.
    func releasePages() {
        guard let base else { return }
        _ = madvise(base, count, MADV_DONTNEED)
    }

    deinit {
        if let base { munmap(base, count) }
    }
}
