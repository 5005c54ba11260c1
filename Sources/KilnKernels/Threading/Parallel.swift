import Dispatch

/// Intra-op parallelism: splits a range of independent work items over threads.
public enum Parallel {
    /// Calls `body` on disjoint chunks that together cover `0..<count`, using up to
    /// `threads` threads (the calling thread included). With `threads <= 1`, or when
    /// `count` is smaller than `grain`, runs inline.
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
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks
                let end = count * (chunk + 1) / chunks
                if start < end { box.value(start..<end) }
            }
        }
    }
}

/// Carries a non-Sendable closure into `concurrentPerform`; the chunks it is called with
/// are disjoint, which is the caller's obligation.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
