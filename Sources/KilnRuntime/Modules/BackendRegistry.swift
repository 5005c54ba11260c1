import Foundation
import KilnCore

/// A back end: turns the payload of one ``ModuleKind`` back into a ``Module``.
///
/// This is the plug-in point for accelerators other than the DPU. To add one:
///
/// 1. Define its module, a type conforming to ``Module`` with a new kind
///    (`ModuleKind(rawValue: "npu")`), which names its weights by symbol instead of
///    embedding them, and serializes its code in ``Module/payload()``.
/// 2. Define a `Backend` whose ``decodeModule(name:payload:)`` reverses ``Module/payload()``,
///    checking every length and offset (the payload comes from a file).
/// 3. Pass `BackendRegistry.builtIn + [MyBackend()]` to ``ArtifactReader`` (a list, not a
///    global: nothing registers itself, and two readers can use two different lists).
///
/// The writer needs nothing: it writes any ``Module``.
public protocol Backend: Sendable {
    /// The module kind this back end decodes.
    var kind: ModuleKind { get }
    /// One line saying what the back end runs, for `kiln show`.
    var summary: String { get }

    /// Decodes a module from its payload (the bytes ``Module/payload()`` wrote).
    ///
    /// - Parameters:
    ///   - name: The module's name in the tree.
    ///   - payload: The module's section; its checksum has been verified.
    /// - Throws: `artifactMalformed` (or `artifactTooNew`) when the payload does not decode.
    func decodeModule(name: String, payload: Data) throws -> any Module
}

/// The back ends Kiln ships, and lookup by kind.
public enum BackendRegistry {
    /// The CPU and DPU back ends.
    public static let builtIn: [any Backend] = [CPUBackend(), DPUBackend()]

    /// The back end of `kind` in `backends`.
    public static func backend(for kind: ModuleKind, in backends: [any Backend] = builtIn) -> (any Backend)? {
        backends.first { $0.kind == kind }
    }

    /// Decodes a module with the back end of its kind.
    ///
    /// - Throws: `unknownModuleKind` when no back end in `backends` has that kind; what the
    ///   back end throws.
    static func decodeModule(
        kind: ModuleKind, name: String, payload: Data, backends: [any Backend]
    ) throws -> any Module {
        guard let backend = backend(for: kind, in: backends) else {
            let known = backends.map(\.kind.rawValue).joined(separator: ", ")
            throw KilnError(
                .unknownModuleKind,
                "module '\(name)' has kind '\(kind)', which no back end decodes (known: \(known)); "
                    + "it was written by a Kiln with another back end")
        }
        return try backend.decodeModule(name: name, payload: payload)
    }
}
