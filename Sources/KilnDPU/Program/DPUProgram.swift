import Foundation
import KilnCore
import KilnTargets

/// A compiled DPU subgraph: feature-map buffers, packed int8 weights and biases, the
/// layers' integer parameters (every shift resolved) and the instruction stream that runs
/// them tile by tile on one DPU configuration. `docs/dpu-program.md` describes it.
///
/// Built by ``DPUCompiler/compile(subgraph:plan:architecture:)``, executed by
/// ``DPUEmulator``, stored as bytes with ``serialized()`` / ``init(serialized:)``.
public struct DPUProgram: Codable, Sendable, Equatable {
    /// The format version this Kiln writes and the newest it reads.
    public static let currentVersion = 1

    /// The format version.
    public var version: Int
    /// The catalog name of the architecture it was compiled for.
    public var target: String
    /// The architecture's fingerprint (`0x…`), or `nil` where it is not public.
    public var fingerprint: Fingerprint?
    /// The subgraph's name.
    public var name: String
    /// The tiling parameters the compiler used.
    public var geometry: DPUGeometry
    /// Every feature map: inputs, outputs, intermediates and constant operands.
    public var buffers: [DPUBuffer]
    /// Buffers read from the caller, in the subgraph's input order.
    public var inputs: [Int]
    /// Buffers returned to the caller, in the subgraph's output order.
    public var outputs: [Int]
    /// The layers, in execution order.
    public var layers: [DPULayer]
    /// The instruction stream.
    public var instructions: [DPUInstruction]
    /// Packed weights, biases and constant operands (int8), addressed by ``DPUBlobRange``.
    public var blob: [Int8]

    /// Whether the program was compiled for `architecture` (same name and fingerprint).
    public func isCompiled(for architecture: DPUArchitecture) -> Bool {
        architecture.name == target && architecture.fingerprint == fingerprint
    }

    /// Throws `dpuTargetMismatch` unless the program was compiled for `architecture`.
    public func check(for architecture: DPUArchitecture) throws {
        guard isCompiled(for: architecture) else {
            throw KilnError(
                .dpuTargetMismatch,
                "DPU program '\(name)' was compiled for \(target) (\(fingerprint?.description ?? "no fingerprint")), "
                    + "not \(architecture.name) (\(architecture.fingerprint?.description ?? "no fingerprint")); recompile it"
            )
        }
    }
}

/// What the compiler tiles against, from the architecture (fallbacks stated in `docs/dpu-program.md`).
public struct DPUGeometry: Codable, Sendable, Equatable {
    /// Pixel parallelism (1 where not public).
    public var pixelParallelism: Int
    /// Input-channel parallelism: input channels of packed weights are padded to it.
    public var inputChannelParallelism: Int
    /// Output-channel parallelism: weights are packed in blocks of this many output channels.
    public var outputChannelParallelism: Int
    /// Bytes of the image banks a tile's inputs and outputs share.
    public var featureBankBytes: Int
    /// Bytes of the conv weight bank.
    public var weightBankBytes: Int
    /// Bytes of the depthwise weight and bias bank.
    public var depthwiseBankBytes: Int
}

/// A contiguous range of ``DPUProgram/blob``.
public struct DPUBlobRange: Codable, Sendable, Equatable {
    /// First byte.
    public var offset: Int
    /// Bytes.
    public var count: Int
}

/// One int8 feature map.
///
/// Rank-4 maps (`N×C×H×W` in the graph) are stored NHWC, as the DPU lays them out; every
/// other rank is stored row-major in the graph's order (its last axis is the channel axis).
public struct DPUBuffer: Codable, Sendable, Equatable {
    /// The graph value's name.
    public var name: String
    /// The graph's shape (`N×C×H×W` for rank 4).
    public var shape: [Int]
    /// The fix position: integer `q` means `q · 2^-p`.
    public var fixPosition: Int
    /// How a float is rounded onto this map's grid (inputs: the plan's mode for the value).
    public var roundMode: RoundMode
    /// The int8 contents of a constant operand (stored in the buffer's layout), else `nil`.
    public var constant: DPUBlobRange?

    /// Elements.
    public var count: Int { shape.reduce(1, *) }
    /// Whether the map is stored NHWC (rank 4).
    public var isNHWC: Bool { shape.count == 4 }
    /// The stored shape: `N×H×W×C` for rank 4, the graph's otherwise.
    public var storedShape: [Int] { isNHWC ? [shape[0], shape[2], shape[3], shape[1]] : shape }
    /// Rows the engines tile over (every stored axis but the last, multiplied).
    public var rows: Int { storedShape.dropLast().reduce(1, *) }
    /// Elements per row (the last stored axis).
    public var rowLength: Int { storedShape.last ?? 1 }
}

/// The DPU engine an instruction drives, with the names of the user guide.
public enum DPUOpcode: String, Codable, Sendable, CaseIterable {
    /// DDR → banks: feature rows or a weight block.
    case load = "LOAD"
    /// The conv engine (conv, transposed conv, fully connected).
    case conv = "CONV"
    /// The depthwise conv engine.
    case dwconv = "DWCONV"
    /// Max and average pooling.
    case pool = "POOL"
    /// Element-wise add and multiply.
    case elew = "ELEW"
    /// Resize, concat, reshapes, standalone activations, hard sigmoid / swish.
    case misc = "MISC"
    /// Banks → DDR.
    case save = "SAVE"

    /// The performance model's engine for this opcode.
    public var engine: DPUEngine {
        switch self {
        case .load: .load
        case .conv: .conv
        case .dwconv: .depthwise
        case .pool: .pool
        case .elew: .eltwise
        case .misc: .misc
        case .save: .save
        }
    }
}

/// One instruction: an engine applied to a tile of one layer.
public struct DPUInstruction: Codable, Sendable, Equatable {
    /// The engine.
    public var opcode: DPUOpcode
    /// The layer (index into ``DPUProgram/layers``).
    public var layer: Int
    /// The buffer a LOAD reads or a SAVE writes (`nil` for a weight LOAD and compute).
    public var buffer: Int?
    /// Output rows of the tile (rows of the output buffer's stored layout; for a feature
    /// LOAD, the input rows it brings in).
    public var rows: Range<Int>
    /// Output channels of the tile (conv / depthwise: a run of output-channel blocks).
    public var channels: Range<Int>
    /// DDR bytes moved (LOAD / SAVE).
    public var bytes: Int
    /// Engine cycles from the performance model (0 for LOAD / SAVE, or when the
    /// architecture's parallelism is not public).
    public var cycles: Int
}
