import Foundation

/// A loaded (or about to be written) artifact: the header, the module tree, and the
/// section table as read from the file.
///
/// ```swift
/// let artifact = try ArtifactReader.read(contentsOf: url, expectedFingerprint: target.fingerprint)
/// let cpu = artifact.tree.module(exportingFunction: CPUModule.entryFunction)
/// ```
public struct Artifact: Sendable {
    /// The file's format version.
    public var version: FormatVersion
    /// Producer, target, model hash, quantization state.
    public var header: ArtifactHeader
    /// The metadata module with its children, initialized.
    public var tree: ModuleTree
    /// Every section of the file, known or not, in file order.
    public var sections: [SectionEntry]
    /// The file's length in bytes.
    public var fileLength: Int
    /// Whether the artifact was compiled for another fingerprint than the expected one and
    /// loaded only because recompiling was allowed: its DPU programs must be rebuilt.
    public var needsRecompile: Bool
}
