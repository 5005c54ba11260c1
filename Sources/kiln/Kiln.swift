import ArgumentParser

@main
struct Kiln: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Import, partition, quantize, compile and run ONNX models for DPU-class int8 accelerators.",
        subcommands: []
    )
}
