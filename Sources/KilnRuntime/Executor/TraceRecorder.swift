import Foundation
import KilnCore

/// Collects one slice per executed step (kernel or accelerator subgraph call) and writes
/// them as a Chrome trace-event file, which Perfetto and `chrome://tracing` open.
///
/// Thread-safe: several execution contexts may record into one recorder; each slice
/// carries the recording thread's number.
///
/// ```swift
/// let trace = TraceRecorder()
/// context.trace = trace
/// try context.run()
/// try trace.write(to: URL(fileURLWithPath: "trace.json"))
/// ```
public final class TraceRecorder: @unchecked Sendable {
    /// One complete event (`"ph": "X"`).
    public struct Slice: Sendable, Equatable {
        /// The node's name.
        public var name: String
        /// The op (or `dpu_subgraph <symbol>`), the event's category.
        public var op: String
        /// Start, in nanoseconds on the monotonic clock.
        public var startNanoseconds: UInt64
        /// End, in nanoseconds.
        public var endNanoseconds: UInt64
        /// Extra fields (`shapes`), shown in the event's arguments.
        public var arguments: [String: String]
        /// The recording thread's number (1, 2, …, in order of first use).
        public var thread: Int
    }

    private let lock = NSLock()
    private var recorded: [Slice] = []
    private var threadNumbers: [ObjectIdentifier: Int] = [:]

    /// An empty recorder.
    public init() {}

    /// Every slice so far, in recording order.
    public var slices: [Slice] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    /// Records one slice.
    public func record(
        name: String, op: String, startNanoseconds: UInt64, endNanoseconds: UInt64, arguments: [String: String] = [:]
    ) {
        let threadID = ObjectIdentifier(Thread.current)
        lock.lock()
        defer { lock.unlock() }
        let thread = threadNumbers[threadID] ?? (threadNumbers.count + 1)
        threadNumbers[threadID] = thread
        recorded.append(Slice(
            name: name, op: op, startNanoseconds: startNanoseconds, endNanoseconds: max(endNanoseconds, startNanoseconds),
            arguments: arguments, thread: thread))
    }

    /// The trace-event JSON document (`{"traceEvents": [...], "displayTimeUnit": "ms"}`),
    /// timestamps in microseconds from the first slice.
    public func jsonData() throws -> Data {
        let slices = self.slices
        let origin = slices.map(\.startNanoseconds).min() ?? 0
        let events: [Event] = slices.map { slice in
            Event(
                name: slice.name, cat: slice.op, ph: "X",
                ts: Double(slice.startNanoseconds - origin) / 1000,
                dur: Double(slice.endNanoseconds - slice.startNanoseconds) / 1000,
                pid: 1, tid: slice.thread, args: slice.arguments.merging(["op": slice.op]) { old, _ in old })
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(Document(traceEvents: events, displayTimeUnit: "ms"))
    }

    /// Writes ``jsonData()`` to `url` atomically (temp file, then rename).
    ///
    /// - Throws: `writeFailed`.
    public func write(to url: URL) throws {
        try FileIO.writeAtomically(try jsonData(), to: url)
    }

    private struct Document: Encodable {
        var traceEvents: [Event]
        var displayTimeUnit: String
    }

    private struct Event: Encodable {
        var name: String
        var cat: String
        var ph: String
        var ts: Double
        var dur: Double
        var pid: Int
        var tid: Int
        var args: [String: String]
    }
}
