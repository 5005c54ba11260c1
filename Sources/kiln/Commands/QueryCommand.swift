import ArgumentParser
import Foundation
import KilnCore
import KilnTargets

/// `kiln query`: prints one DPU architecture, chosen by name, alias, fingerprint or arch.json.
struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Print one DPU architecture in detail.",
        discussion: """
            --target takes a name (DPUCZDX8G_ISA1_B4096), an alias (DPUCZDX8G-kv260) or a \
            fingerprint (0x101000016010406); names match case-insensitively. --arch reads an \
            arch.json, {"fingerprint": "0x…"} or {"target": "NAME"}. An unknown target fails \
            with KILN-4001 and the closest names.
            """
    )

    @Option(help: "A target name, alias or fingerprint.")
    var target: String?

    @Option(help: "An arch.json file.")
    var arch: String?

    @Flag(help: "Print the entry as one JSON document.")
    var json = false

    func run() throws {
        let architecture: DPUArchitecture
        var board: BoardConfiguration?
        switch (target, arch) {
        case (let target?, nil):
            architecture = try Catalog.architecture(matching: target)
            board = architecture.board(forAlias: target)
        case (nil, let arch?):
            architecture = try ArchJSON.read(from: URL(fileURLWithPath: arch)).resolve()
        default:
            throw KilnError(.badArgument, "give exactly one of --target and --arch")
        }
        if json {
            print(try JSONOutput.encode(architecture))
        } else {
            print(TargetText.detail(architecture, selectedBoard: board))
        }
    }
}
