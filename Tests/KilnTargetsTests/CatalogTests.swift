import KilnCore
import Testing

@testable import KilnTargets

/// Lookup by every name and alias, close-match suggestions, and the catalog's invariants.
@Suite struct CatalogTests {
    /// Every (name or alias, entry name) pair in the catalog.
    static let namesAndEntries: [(String, String)] = Catalog.architectures.flatMap { architecture in
        architecture.allNames.map { ($0, architecture.name) }
    }

    static let dpuczdx8gNames = Catalog.architectures.filter { $0.family == .dpuczdx8g }.map(\.name)

    @Test(arguments: namesAndEntries)
    func findsEveryNameAndAlias(_ name: String, _ entry: String) throws {
        #expect(try Catalog.architecture(named: name).name == entry)
        #expect(try Catalog.architecture(named: name.lowercased()).name == entry)
        #expect(try Catalog.architecture(matching: " \(name.uppercased()) ").name == entry)
    }

    @Test func namesAndAliasesAreUniqueAfterNormalizing() {
        let keys = Catalog.architectures.flatMap(\.allNames).map(Catalog.normalized)
        #expect(Set(keys).count == keys.count)
    }

    @Test func fingerprintsAreUnique() {
        let fingerprints = Catalog.architectures.compactMap(\.fingerprint)
        #expect(Set(fingerprints).count == fingerprints.count)
    }

    @Test(arguments: [
        ("DPUCZDX8G_ISA1_B512", 4, 8), ("DPUCZDX8G_ISA1_B800", 4, 10), ("DPUCZDX8G_ISA1_B1024", 8, 8),
        ("DPUCZDX8G_ISA1_B1152", 4, 12), ("DPUCZDX8G_ISA1_B1600", 8, 10), ("DPUCZDX8G_ISA1_B2304", 8, 12),
        ("DPUCZDX8G_ISA1_B3136", 8, 14), ("DPUCZDX8G_ISA1_B4096", 8, 16),
    ])
    func listsThePG338Configurations(_ name: String, _ pixel: Int, _ channel: Int) throws {
        let architecture = try Catalog.architecture(named: name)
        #expect(architecture.pixelParallelism == pixel)
        #expect(architecture.inputChannelParallelism == channel)
        #expect(architecture.outputChannelParallelism == channel)
    }

    @Test(arguments: dpuczdx8gNames)
    func dpuczdx8gPeakIsPixelTimesChannelsTimesTwo(_ name: String) throws {
        let architecture = try Catalog.architecture(named: name)
        let pixel = try #require(architecture.pixelParallelism)
        let input = try #require(architecture.inputChannelParallelism)
        let output = try #require(architecture.outputChannelParallelism)
        #expect(architecture.peakOpsPerCycle == pixel * input * output * 2)
        #expect(name.contains("_B\(pixel * input * output * 2)"))
    }

    @Test(arguments: dpuczdx8gNames)
    func dpuczdx8gFingerprintDecodesToTheEntry(_ name: String) throws {
        let architecture = try Catalog.architecture(named: name)
        let fingerprint = try #require(architecture.fingerprint)
        #expect(fingerprint.dpuType == .dpuczdx8g)
        #expect(fingerprint.isaVersion == 1)
        let code = try #require(architecture.featureCode)
        let parallelism = try #require(code.parallelism)
        #expect(parallelism.pixel == architecture.pixelParallelism)
        #expect(parallelism.channel == architecture.inputChannelParallelism)
        #expect(code.aluPixelParallelism == architecture.aluPixelParallelism)
        #expect(code.imageBankGroups == architecture.onChipMemory.imageBankGroups)
        #expect((architecture.limits.argmax != nil) == code.hasSaveArgmax)
        #expect(architecture.limits.conv?.activations.contains(.leakyReLU) == code.hasConvLeakyReLU)
    }

    @Test(arguments: dpuczdx8gNames)
    func dpuczdx8gBuffersMatchTheBankGeometry(_ name: String) throws {
        // Image: groups × banks × ICP bytes × depth; conv weights: OCP × ICP × depth;
        // depthwise weights + bias: 2 × ICP × depth.
        let architecture = try Catalog.architecture(named: name)
        let memory = architecture.onChipMemory
        let depth = try #require(memory.bankDepth)
        let icp = try #require(architecture.inputChannelParallelism)
        let ocp = try #require(architecture.outputChannelParallelism)
        let groups = try #require(memory.imageBankGroups)
        let banks = try #require(memory.imageBanks)
        #expect(memory.imageKiB == groups * banks * icp * depth / 1024)
        #expect(memory.convWeightKiB == ocp * icp * depth / 1024)
        #expect(memory.depthwiseWeightBiasKiB == 2 * icp * depth / 1024)
    }

    @Test func legacyNamesSelectBoards() throws {
        let zcu102 = try Catalog.architecture(named: "DPUCZDX8G-zcu102")
        #expect(zcu102.name == "DPUCZDX8G_ISA1_B4096")
        let board = try #require(zcu102.board(forAlias: "dpuczdx8g_zcu102"))
        #expect(board.name == "ZCU102" && board.cores == 3 && board.clockMHz == 281)
        let kv260 = try Catalog.architecture(named: "DPUCZDX8G-kv260")
        #expect(kv260.fingerprint == Fingerprint(rawValue: 0x0101_0000_1601_0406))
        #expect(try Catalog.architecture(named: "DPUCADX8G").family == .dpucadf8h)
    }

    @Test func compilerNamesWithAFingerprintResolve() throws {
        let name = "DPUCZDX8G_ISA1_B4096_0101000056010407"
        #expect(try Catalog.architecture(named: name).name == "DPUCZDX8G_ISA1_B4096")
        // The name and the fingerprint must agree.
        #expect(throws: KilnError.self) { try Catalog.architecture(named: "DPUCZDX8G_ISA1_B512_0101000056010407") }
    }

    @Test(arguments: [
        ("DPUCZDX8G_ISA1_B4095", "DPUCZDX8G_ISA1_B4096"),
        ("dpuczdx8g_isa1_b3163", "DPUCZDX8G_ISA1_B3136"),
        ("DPUCZDX8G-zcu10", "DPUCZDX8G-zcu102"),
        ("DPUCAHX8H_ISA2_DW", "DPUCAHX8H_ISA2_DWC"),
        ("DPUCVDX8G_ISA3_C32B4", "DPUCVDX8G_ISA3_C32B3"),
        ("b4096", "DPUCZDX8G_ISA1_B4096"),
    ])
    func unknownNamesSuggestCloseMatches(_ name: String, _ expected: String) throws {
        #expect(Catalog.suggestions(for: name).contains(expected))
        let error = try #require(throws: KilnError.self) { try Catalog.architecture(named: name) }
        #expect(error.code == .unknownTarget)
    }

    @Test func theUnknownNameMessageListsTheSuggestions() {
        let message = Catalog.unknownNameMessage("DPUCZDX8G_ISA1_B4095")
        #expect(message.hasPrefix("unknown target 'DPUCZDX8G_ISA1_B4095'; did you mean DPUCZDX8G_ISA1_B4096, "))
        #expect(Catalog.unknownNameMessage("zzz").contains("kiln targets"))
    }

    @Test func theClosestSuggestionComesFirst() {
        #expect(Catalog.suggestions(for: "DPUCZDX8G_ISA1_B4095").first == "DPUCZDX8G_ISA1_B4096")
        #expect(Catalog.suggestions(for: "nothing like a dpu").isEmpty)
    }

    @Test(arguments: ["", "0x", "0xZZ", "0x1234567890abcdef0"])
    func malformedFingerprintTargetsAreUnknownTargets(_ text: String) {
        let error = #expect(throws: KilnError.self) { try Catalog.architecture(matching: text) }
        #expect(error?.code == .unknownTarget)
    }

    @Test(arguments: [0x0101_0000_1601_0402, 0x0603_000b_1601_3831, 0xFF00_0000_0000_0000] as [UInt64])
    func unknownFingerprintsFailWithTheirCode(_ raw: UInt64) {
        let error = #expect(throws: KilnError.self) { try Catalog.architecture(fingerprint: Fingerprint(rawValue: raw)) }
        #expect(error?.code == .unknownFingerprint)
    }

    @Test func unknownFingerprintsSuggestTheirFamily() {
        // A Vitis AI 2.5 B1024 (argmax off) is closest to the 3.x B1024.
        let b1024 = Catalog.suggestions(for: Fingerprint(rawValue: 0x0101_0000_1601_0402))
        #expect(b1024.first?.name == "DPUCZDX8G_ISA1_B1024")
        let versal = Catalog.suggestions(for: Fingerprint(rawValue: 0x0603_000b_1601_3831))
        #expect(!versal.isEmpty && versal.allSatisfy { $0.family == .dpucvdx8g })
    }

    @Test func editDistanceCountsEdits() {
        #expect(Catalog.editDistance("kitten", "sitting") == 3)
        #expect(Catalog.editDistance("", "abc") == 3)
        #expect(Catalog.editDistance("B4096", "B4096") == 0)
    }
}
