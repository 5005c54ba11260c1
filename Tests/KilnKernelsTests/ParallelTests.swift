import Dispatch
import Synchronization
import Testing

@testable import KilnKernels

/// The persistent pool behind `Parallel.forEach`: every item exactly once, whatever the
/// thread count, nesting or concurrency.
struct ParallelTests {
    /// Counts per item, written by disjoint chunks.
    final class Counts: @unchecked Sendable {
        var values: [Int]
        init(_ count: Int) { values = [Int](repeating: 0, count: count) }
    }

    @Test(arguments: [1, 2, 3, 8])
    func everyItemOnce(threads: Int) {
        for count in [1, 2, 7, 1000] {
            for _ in 0..<50 {
                let counts = Counts(count)
                Parallel.forEach(count, threads: threads) { range in
                    for i in range { counts.values[i] += 1 }
                }
                #expect(counts.values.allSatisfy { $0 == 1 }, "count \(count), threads \(threads)")
            }
        }
    }

    /// A parallel loop inside a parallel task runs inline (the pool is busy) and still
    /// covers everything.
    @Test func nestedLoopsRunInline() {
        let counts = Counts(64 * 64)
        Parallel.forEach(64, threads: 2) { outer in
            for i in outer {
                Parallel.forEach(64, threads: 2) { inner in
                    for j in inner { counts.values[i * 64 + j] += 1 }
                }
            }
        }
        #expect(counts.values.allSatisfy { $0 == 1 })
    }

    /// Several threads submitting at once: each job completes with its own items.
    @Test func concurrentCallers() {
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<200 {
                let counts = Counts(97)
                Parallel.forEach(97, threads: 2) { range in
                    for i in range { counts.values[i] += 1 }
                }
                if !counts.values.allSatisfy({ $0 == 1 }) { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }
}
