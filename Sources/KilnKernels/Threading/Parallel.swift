import CKilnKernels

/// Intra-op parallelism: splits a range of independent work items over threads of a
/// persistent pool (`ckiln_parallel_for`: workers created once, woken per call).
public enum Parallel {
    /// Calls `body` on disjoint chunks that together cover `0..<count`, using up to
    /// `threads` threads (the calling thread included). With `threads <= 1`, or when
    /// `count` is smaller than `grain`, runs inline; also inline when the pool is already
    /// running another job (a parallel kernel inside a parallel task, or another thread's
    /// kernel), so nesting and concurrent sessions never oversubscribe the cores.
    public static func forEach(
        _ count: Int, threads: Int, grain: Int = 1, _ body: (Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        let chunks = min(max(1, threads), max(1, count / max(1, grain)))
        if chunks <= 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let job = Job { chunk in
                let start = count * chunk / chunks
                let end = count * (chunk + 1) / chunks
                if start < end { body(start..<end) }
            }
            withExtendedLifetime(job) {
                ckiln_parallel_for(
                    Int32(chunks), chunks,
                    { context, index in
                        guard let context else { return }
                        Unmanaged<Job>.fromOpaque(context).takeUnretainedValue().run(index)
                    },
                    Unmanaged.passUnretained(job).toOpaque())
            }
        }
    }
}

/// The chunk function of one `forEach`, handed to the C pool by pointer; its chunks are
/// disjoint, which is the caller's obligation.
private final class Job: @unchecked Sendable {
    let run: (Int) -> Void
    init(_ run: @escaping (Int) -> Void) { self.run = run }
}
