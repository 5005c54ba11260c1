import Foundation
import KilnCore
import KilnIR
import KilnInterpreter

/// Runs the float model over calibration samples and observes the tensors a scheme quantizes.
///
/// The interpreter's `valueHook` sees every graph input and node output by name; the
/// calibrator records those in `values` (the scheme lists them: graph inputs, the outputs of
/// conv + activation chains as the DPU computes them, add / concat / pool outputs, …) and
/// ignores the rest.
enum Calibrator {
    /// Observations of each tensor in `values` over every sample.
    ///
    /// - Parameters:
    ///   - graph: the float graph to run.
    ///   - values: names of the values to observe.
    ///   - samples: the feeds.
    ///   - keepsHistograms: whether observers keep a histogram (every method but minmax).
    ///   - threads: intra-op threads of the interpreter.
    ///   - progress: called after each sample with the number done.
    /// - Throws: what the interpreter throws.
    static func observe(
        _ graph: Graph, values: Set<String>, samples: [[String: Tensor]], keepsHistograms: Bool, threads: Int,
        progress: ((Int) -> Void)? = nil
    ) throws -> [String: TensorObserver] {
        let store = ObserverStore(names: values, keepsHistograms: keepsHistograms)
        var interpreter = try Interpreter(graph: graph, threads: threads)
        interpreter.valueHook = { name, tensor in
            store.add(tensor, named: name)
            return nil
        }
        for (index, sample) in samples.enumerated() {
            _ = try interpreter.run(sample)
            progress?(index + 1)
        }
        return store.observers
    }
}

/// The observers the value hook writes into (the hook is `@Sendable`; the lock makes the
/// store safe should the interpreter ever call it from several threads).
private final class ObserverStore: @unchecked Sendable {
    private let lock = NSLock()
    private var table: [String: TensorObserver]

    init(names: Set<String>, keepsHistograms: Bool) {
        table = Dictionary(uniqueKeysWithValues: names.map { ($0, TensorObserver(keepsHistogram: keepsHistograms)) })
    }

    func add(_ tensor: Tensor, named name: String) {
        lock.lock()
        defer { lock.unlock() }
        table[name]?.add(tensor)
    }

    var observers: [String: TensorObserver] {
        lock.lock()
        defer { lock.unlock() }
        return table
    }
}
