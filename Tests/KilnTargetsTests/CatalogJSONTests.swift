import Foundation
import Testing

@testable import KilnTargets

/// The catalog's JSON form (what `kiln targets --json` prints) decodes back to the catalog.
@Suite struct CatalogJSONTests {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    @Test func catalogRoundTripsThroughJSON() throws {
        let data = try Self.encoder().encode(Catalog.architectures)
        let decoded = try JSONDecoder().decode([DPUArchitecture].self, from: data)
        #expect(decoded == Catalog.architectures)
    }

    @Test func figuresThatAreNotPublicAreNull() throws {
        let architecture = try Catalog.architecture(named: "DPUCV2DX8G_ISA1_C20B1")
        let data = try Self.encoder().encode(architecture)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["clock_mhz"] is NSNull)
        #expect(object["fingerprint"] is NSNull)
        #expect(object["input_channel_parallelism"] as? Int == 32)
        let limits = try #require(object["limits"] as? [String: Any])
        #expect(limits["correlation"] is NSNull)  // not on this DPU: still listed
        #expect(architecture.notPublic.contains("clock_mhz"))
    }

    @Test func sizeRulesEncodeWithSnakeCaseKeys() throws {
        let data = try Self.encoder().encode([SizeConstraint.kernelAreaTimesChannelGroups(channelParallel: 16, max: 2048)])
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"kernel_area_times_channel_groups\""))
        #expect(text.contains("\"channel_parallel\" : 16"))
    }

    @Test(arguments: [AllowedSizes.range(IntRange(1, 16)), .values([1, 2, 3, 5, 7])])
    func allowedSizesRoundTrip(_ sizes: AllowedSizes) throws {
        let data = try JSONEncoder().encode(sizes)
        #expect(try JSONDecoder().decode(AllowedSizes.self, from: data) == sizes)
    }
}
