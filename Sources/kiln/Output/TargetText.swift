import Foundation
import KilnTargets

/// The human-readable forms of catalog entries: the `kiln targets` table and the
/// `kiln query` detail. Figures that are not public print as `?` or "not public".
enum TargetText {
    /// One row per entry, columns aligned, with a header and a footer.
    static func table(_ architectures: [DPUArchitecture]) -> String {
        let header = ["NAME", "FAMILY", "PP×ICP×OCP", "PEAK", "ALIASES"]
        let rows = architectures.map { architecture in
            [
                architecture.name, architecture.family.rawValue, parallelism(architecture),
                peak(architecture), architecture.aliases.joined(separator: ", "),
            ]
        }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        let lines = ([header] + rows).map { cells in
            cells.enumerated().map { column, cell in
                column == cells.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }
            .joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces)
        }
        return (lines + ["", "? = not public. 'kiln query --target NAME' prints one target in detail."])
            .joined(separator: "\n")
    }

    /// `8×16×16`, `8×16×32 (batch 6)`, `?×32×?`.
    static func parallelism(_ architecture: DPUArchitecture) -> String {
        let axes = [
            architecture.pixelParallelism, architecture.inputChannelParallelism,
            architecture.outputChannelParallelism,
        ]
        let text = axes.map(figure).joined(separator: "×")
        if let batch = architecture.batch, batch > 1 { return text + " (batch \(batch))" }
        return text
    }

    /// `1228.8 GOPS @ 300 MHz`, `4096 ops/clk`, or `not public`; DPUCAHX8H figures are per
    /// engine (a core holds several).
    static func peak(_ architecture: DPUArchitecture) -> String {
        let unit = architecture.family == .dpucahx8h ? " per engine" : ""
        if let gops = architecture.peakGOPS, let clock = architecture.clockMHz {
            return String(format: "%.1f GOPS @ %d MHz", gops, clock) + unit
        }
        if let ops = architecture.peakOpsPerCycle { return "\(ops) ops/clk" + unit }
        return "not public"
    }

    /// Every field of one entry, one topic per line.
    static func detail(_ architecture: DPUArchitecture, selectedBoard: BoardConfiguration?) -> String {
        var lines = ["\(architecture.name) — \(architecture.summary)"]
        func add(_ label: String, _ value: String) {
            lines.append("  " + label.padding(toLength: 17, withPad: " ", startingAt: 0) + value)
        }
        add("family", architecture.family.rawValue + (architecture.isaVersion.map { ", ISA \($0)" } ?? ""))
        if !architecture.aliases.isEmpty { add("aliases", architecture.aliases.joined(separator: ", ")) }
        if let fingerprint = architecture.fingerprint {
            add("fingerprint", "\(fingerprint)  (arch.json: {\"fingerprint\": \"\(fingerprint)\"})")
        } else {
            add("fingerprint", "not public  (arch.json: {\"target\": \"\(architecture.name)\"})")
        }
        if let code = architecture.featureCode { add("feature code", features(code)) }
        var parallel = "PP \(figure(architecture.pixelParallelism)) × ICP \(figure(architecture.inputChannelParallelism))"
            + " × OCP \(figure(architecture.outputChannelParallelism)), batch \(figure(architecture.batch))"
        parallel += ", ALU PP \(figure(architecture.aluPixelParallelism))"
        add("parallelism", parallel)
        add("peak", peakLine(architecture))
        add("on-chip memory", onChip(architecture.onChipMemory))
        let memory = architecture.externalMemory
        add("external memory", externalMemory(memory))
        for traffic in memory.measured {
            add("", "\(traffic.workload): \(traffic.direction.rawValue) peak \(traffic.peakMBps) MB/s, average \(traffic.averageMBps) MB/s")
        }
        add("activation range", "int8 \(architecture.activationRange)")
        if let selectedBoard { add("selected board", board(selectedBoard)) }
        for (index, entry) in architecture.boards.enumerated() {
            add(index == 0 ? "boards" : "", board(entry))
        }
        lines.append("  operators (anything else runs on the CPU)")
        lines += operators(architecture.limits).map { "    " + $0 }
        if !architecture.notPublic.isEmpty { add("not public", architecture.notPublic.joined(separator: ", ")) }
        for (index, note) in architecture.notes.enumerated() { add(index == 0 ? "notes" : "", "- " + note) }
        add("sources", architecture.sources.joined(separator: ", ") + "  (shared/reference/dpu-architecture.md)")
        return lines.joined(separator: "\n")
    }

    private static func figure(_ value: Int?) -> String { value.map(String.init) ?? "?" }

    private static func peakLine(_ architecture: DPUArchitecture) -> String {
        guard let ops = architecture.peakOpsPerCycle else {
            return "not public; clock \(architecture.clockMHz.map { "\($0) MHz" } ?? "not public")"
        }
        var text = "\(ops) ops/cycle" + (architecture.family == .dpucahx8h ? " per engine" : "")
        if let gops = architecture.peakGOPS, let clock = architecture.clockMHz {
            text += String(format: " = %.1f GOPS at %d MHz", gops, clock)
        }
        if let cores = architecture.cores { text += "; \(cores) core\(cores == 1 ? "" : "s") by default" }
        return text
    }

    private static func features(_ code: DPUCZDX8GFeatureCode) -> String {
        var flags = ["ALU PP \(code.aluPixelParallelism)", "\(code.imageBankGroups) image bank groups"]
        flags.append((code.hasChannelAugmentation ? "" : "no ") + "channel augmentation")
        flags.append((code.hasConvLeakyReLU ? "" : "no ") + "conv LeakyReLU")
        flags.append((code.hasALULeakyReLU ? "" : "no ") + "ALU LeakyReLU")
        flags.append((code.hasSaveArgmax ? "" : "no ") + "save-engine argmax")
        return flags.joined(separator: ", ")
    }

    private static func onChip(_ memory: OnChipMemory) -> String {
        var parts = ["bank depth \(figure(memory.bankDepth))"]
        if let banks = memory.imageBanks {
            let groups = memory.imageBankGroups.map { "\($0) × " } ?? ""
            parts.append("image \(groups)\(banks) bank\(banks == 1 ? "" : "s")" + (memory.imageKiB.map { ", \($0) KiB" } ?? ""))
        }
        parts.append("conv weights \(kib(memory.convWeightKiB))")
        parts.append("depthwise weights + bias \(kib(memory.depthwiseWeightBiasKiB))")
        return parts.joined(separator: "; ")
    }

    private static func kib(_ value: Int?) -> String { value.map { "\($0) KiB" } ?? "not public" }

    private static func externalMemory(_ memory: ExternalMemory) -> String {
        var text = memory.kind.rawValue.uppercased()
        text += "; bandwidth " + (memory.bandwidthMBps.map { "\($0) MB/s" } ?? "not public")
        if let ports = memory.dataPorts, let bits = memory.dataPortBits {
            text += "; \(ports) × \(bits)-bit data ports per core"
            if let instruction = memory.instructionPortBits { text += ", \(instruction)-bit instruction port" }
        }
        return text
    }

    private static func board(_ board: BoardConfiguration) -> String {
        var text = "\(board.name): "
        text += board.cores.map { "\($0) core\($0 == 1 ? "" : "s")" } ?? "cores not public"
        if let engines = board.enginesPerCore {
            text += " (" + engines.map(String.init).joined(separator: "+") + " engines)"
        }
        text += " at " + (board.clockMHz.map { "\($0) MHz" } ?? "a clock not public")
        if let gops = board.publishedPeakGOPS { text += String(format: ", %.0f GOPS published", gops) }
        if let alias = board.alias { text += " [\(alias)]" }
        if let note = board.note { text += "; \(note)" }
        return text
    }

    /// One line per op the DPU runs, then one line naming those it does not.
    private static func operators(_ limits: OperatorLimits) -> [String] {
        var lines: [String] = []
        var cpuOnly: [String] = []
        func op(_ name: String, _ text: String?) {
            guard let text else { return cpuOnly.append(name) }
            lines.append(name.padding(toLength: 24, withPad: " ", startingAt: 0) + text)
        }
        op("conv2d", limits.conv.map(window))
        op("depthwise conv2d", limits.depthwiseConv.map(window))
        op("transposed conv2d", limits.transposedConv.map(window))
        op("depthwise transposed", limits.depthwiseTransposedConv.map(window))
        op("max pool", limits.maxPool.map(window))
        op("average pool", limits.averagePool.map(window))
        op("conv3d", limits.conv3d.map(window))
        op("depthwise conv3d", limits.depthwiseConv3d.map(window))
        op("transposed conv3d", limits.transposedConv3d.map(window))
        op("depthwise transp. 3d", limits.depthwiseTransposedConv3d.map(window))
        op("eltwise", limits.eltwise.map { eltwise in
            var parts = [eltwise.kinds.map(\.rawValue).joined(separator: ", ")]
            if let inputs = eltwise.maxInputs { parts.append("at most \(inputs) inputs") }
            parts.append(activations(eltwise.activations))
            return (parts + eltwise.constraints.map(\.description)).joined(separator: "; ")
        })
        op("resize", limits.resize.map { resize in
            var parts = [resize.modes.map(\.rawValue).joined(separator: ", ")]
            if resize.nearestNeedsIntegerScale { parts.append("nearest: integer scale") }
            parts += resize.nearestConstraints.map { "nearest: \($0)" }
            parts += resize.bilinearCases.map { bilinear in
                "bilinear: align_corners=\(bilinear.alignCorners) half_pixel_centers=\(bilinear.halfPixelCenters)"
                    + " scale " + bilinear.scales.map(String.init).joined(separator: "/")
            }
            return parts.joined(separator: "; ")
        })
        op("pad", limits.pad.map { pad in
            ([pad.modes.map(\.rawValue).joined(separator: ", ")] + pad.constraints.map(\.description))
                .joined(separator: "; ")
        })
        op("reorg", limits.reorg.map { reorg in
            "forward " + constraints(reorg.forward) + "; reverse " + constraints(reorg.reverse)
        })
        op("argmax (channel)", limits.argmax.map(constraints))
        op("reduce max (channel)", limits.reduceMax.map(constraints))
        op("correlation", limits.correlation.map(constraints))
        if let standalone = limits.standaloneActivations {
            op("standalone activations", standalone.map(\.rawValue).joined(separator: ", "))
        }
        op("concat", limits.concat ? "yes (limits are network-specific)" : nil)
        op("strided slice", limits.stridedSlice ? "batch and channel strides 1" : nil)
        if !cpuOnly.isEmpty { lines.append("not on this DPU: " + cpuOnly.joined(separator: ", ")) }
        return lines
    }

    private static func window(_ limits: WindowLimits) -> String {
        var parts: [String] = []
        if let kernel = limits.kernel {
            parts.append("kernel \(kernel)" + (limits.kernelDepth.map { " (depth \($0))" } ?? ""))
        }
        if let ratio = limits.kernelOverStride { parts.append("kernel/stride \(ratio)") }
        if let stride = limits.stride {
            parts.append("stride \(stride)" + (limits.strideDepth.map { " (depth \($0))" } ?? ""))
        }
        if let padding = limits.padding { parts.append("pad \(padding)") }
        var text = parts.joined(separator: ", ")
        text += "; " + activations(limits.activations)
        if !limits.constraints.isEmpty { text += "; " + constraints(limits.constraints) }
        return text
    }

    private static func activations(_ list: [Activation]) -> String {
        list.isEmpty ? "no fused activation" : list.map(\.rawValue).joined(separator: ", ")
    }

    private static func constraints(_ list: [SizeConstraint]) -> String {
        list.isEmpty ? "no published limit" : list.map(\.description).joined(separator: ", ")
    }
}
