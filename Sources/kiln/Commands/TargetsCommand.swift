import ArgumentParser
import KilnTargets

/// `kiln targets`: lists the DPU catalog.
struct TargetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "targets",
        abstract: "List the DPU architectures Kiln knows.",
        discussion: """
            One line per target: name, family, parallelism (pixel × input channel × output \
            channel), peak GOPS at the default clock, and aliases. Figures no public source \
            gives show as '?' or 'not public'. 'kiln query --target NAME' prints one in detail.
            """
    )

    @Flag(help: "Print one JSON document: an array with every catalog entry in full.")
    var json = false

    func run() throws {
        if json {
            print(try JSONOutput.encode(Catalog.architectures))
        } else {
            print(TargetText.table(Catalog.architectures))
        }
    }
}
