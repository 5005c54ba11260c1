import Foundation
import Testing

@testable import KilnTargets

/// Fingerprint composition, hex forms, and the DPUCZDX8G feature-code layout.
@Suite struct FingerprintTests {
    @Test func composesTypeISAAndFeatureCode() {
        let fingerprint = Fingerprint(type: 1, isaVersion: 1, featureCode: 0x0000_1601_0406)
        #expect(fingerprint.rawValue == 0x0101_0000_1601_0406)
        #expect(fingerprint.typeCode == 1)
        #expect(fingerprint.isaVersion == 1)
        #expect(fingerprint.featureCode == 0x0000_1601_0406)
        #expect(fingerprint.dpuType == .dpuczdx8g)
    }

    @Test(arguments: ["0x101000016010406", "0x0101000016010406", "0X101000016010406", "101000016010406", " 0x101000016010406 "])
    func parsesTheHexForms(_ text: String) {
        #expect(Fingerprint(hex: text)?.rawValue == 0x0101_0000_1601_0406)
    }

    @Test(arguments: ["", "0x", "0xg", "0x1_0", "-0x1", "0x10101000016010406"])
    func rejectsMalformedHex(_ text: String) {
        #expect(Fingerprint(hex: text) == nil)
    }

    @Test func printsLikeXdputilAndPadsForCompilerNames() {
        let fingerprint = Fingerprint(rawValue: 0x0101_0000_1601_0406)
        #expect(fingerprint.description == "0x101000016010406")
        #expect(fingerprint.paddedHex == "0101000016010406")
        #expect(Fingerprint(hex: fingerprint.description) == fingerprint)
    }

    /// dpu-architecture.md §1.4: 0x0101000016010406 is DPUCZDX8G ISA1 B3136, ALU PP 4, two
    /// image bank groups, channel augmentation, conv LeakyReLU, no ALU LeakyReLU, no argmax.
    @Test func decodesThePublishedKV260FeatureCode() {
        let code = DPUCZDX8GFeatureCode(rawValue: Fingerprint(rawValue: 0x0101_0000_1601_0406).featureCode)
        #expect(code.archIndex == 6)
        #expect(code.archName == "B3136")
        #expect(code.parallelism?.pixel == 8 && code.parallelism?.channel == 14)
        #expect(code.aluPixelParallelism == 4)
        #expect(code.imageBankGroups == 2)
        #expect(code.hasChannelAugmentation)
        #expect(code.hasConvLeakyReLU)
        #expect(!code.hasALULeakyReLU)
        #expect(!code.hasSaveArgmax)
        #expect(code.convWeightParallelLog2 == 0 && code.aluWeightParallelLog2 == 0)
    }

    @Test func vitisAI3SetsOnlyTheArgmaxBit() {
        let old = DPUCZDX8GFeatureCode(rawValue: 0x0000_1601_0407)
        let new = DPUCZDX8GFeatureCode(rawValue: 0x0000_5601_0407)
        #expect(new.hasSaveArgmax)
        #expect(new.differences(from: old) == ["save-engine argmax"])
    }

    @Test(arguments: Array(0..<16))
    func archIndicesMapToTheirNames(_ index: Int) {
        let names = ["B512", "B800", "B1024", "B1152", "B1600", "B2304", "B3136", "B4096", "B128", "B144", "B256", "B64"]
        let code = DPUCZDX8GFeatureCode(rawValue: UInt64(index))
        #expect(code.archName == (index < names.count ? names[index] : nil))
    }

    @Test func encodesAsAHexString() throws {
        let data = try JSONEncoder().encode([Fingerprint(rawValue: 0x0101_0000_5601_0407)])
        #expect(String(decoding: data, as: UTF8.self) == #"["0x101000056010407"]"#)
        #expect(try JSONDecoder().decode([Fingerprint].self, from: data) == [Fingerprint(rawValue: 0x0101_0000_5601_0407)])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Fingerprint].self, from: Data(#"["0xq"]"#.utf8)) }
    }
}
