import Foundation

/// The 64-bit number that identifies a DPU configuration.
///
/// `fingerprint = type << 56 | isaVersion << 48 | featureCode` (48 bits), as Vitis AI's
/// `target_factory.cpp::get_fingerprint` composes it and UG1414 describes it ("1 byte DPU
/// type, 1 byte ISA version, 6 bytes configuration"). The runtime refuses a model whose
/// fingerprint differs from the hardware's, so Kiln keeps it exact.
///
/// It prints the way `xdputil query` and `arch.json` write it, `0x101000016010406`, and
/// encodes in JSON as that string (a JSON number would lose the low bits).
///
/// ```swift
/// let fingerprint = Fingerprint(hex: "0x101000016010406")
/// fingerprint?.dpuType   // .dpuczdx8g
/// ```
public struct Fingerprint: RawRepresentable, Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 64-bit value.
    public let rawValue: UInt64

    /// Wraps a 64-bit value.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// Composes a fingerprint from its fields.
    ///
    /// - Parameters:
    ///   - type: The DPU type code (the top byte).
    ///   - isaVersion: The ISA version (the second byte).
    ///   - featureCode: The configuration, at most 48 bits.
    public init(type: UInt8, isaVersion: UInt8, featureCode: UInt64) {
        precondition(featureCode >> 48 == 0, "a feature code has 48 bits, got 0x\(String(featureCode, radix: 16))")
        rawValue = UInt64(type) << 56 | UInt64(isaVersion) << 48 | featureCode
    }

    /// Parses `0x101000016010406`, `0x0101000016010406` or the bare hex digits.
    ///
    /// Returns `nil` for anything else (no digits, non-hex characters, more than 64 bits).
    public init?(hex text: String) {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        guard (1...16).contains(digits.count), digits.allSatisfy(\.isHexDigit),
            let value = UInt64(digits, radix: 16)
        else { return nil }
        rawValue = value
    }

    /// The DPU type code (top byte).
    public var typeCode: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 56) }
    /// The ISA version (second byte).
    public var isaVersion: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 48) }
    /// The configuration (low 48 bits).
    public var featureCode: UInt64 { rawValue & 0xFFFF_FFFF_FFFF }
    /// The DPU type, if the type code is one Vitis AI defines.
    public var dpuType: DPUType? { DPUType(rawValue: typeCode) }

    /// `0x101000016010406`, as `xdputil query` prints it.
    public var description: String { "0x" + String(rawValue, radix: 16) }

    /// The 16 hex digits without prefix, `0101000016010406`, as in compiler target names
    /// such as `DPUCZDX8G_ISA1_B3136_0101000016010406`.
    public var paddedHex: String {
        let digits = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Orders by value.
    public static func < (lhs: Fingerprint, rhs: Fingerprint) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Decodes the hex string form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let fingerprint = Fingerprint(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a hex fingerprint")
        }
        self = fingerprint
    }

    /// Encodes the hex string form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The DPU type codes of a fingerprint's top byte (Vitis AI `target_factory`).
public enum DPUType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Zynq UltraScale+ MPSoC.
    case dpuczdx8g = 1
    /// Alveo HBM, high throughput.
    case dpucahx8h = 2
    /// Alveo HBM, low latency.
    case dpucahx8l = 3
    /// Zynq, int4.
    case dpuczdi4g = 4
    /// Versal (VCK5000).
    case dpucvdx8h = 5
    /// Versal AI Core (VCK190).
    case dpucvdx8g = 6
    /// Alveo U200/U250.
    case dpucadf8h = 7
    /// Ryzen AI (Phoenix).
    case ipuPHX = 8
    /// Versal AI Edge (VEK280, V70).
    case dpucv2dx8g = 9

    /// The IP name, e.g. `DPUCZDX8G`.
    public var description: String {
        switch self {
        case .dpuczdx8g: "DPUCZDX8G"
        case .dpucahx8h: "DPUCAHX8H"
        case .dpucahx8l: "DPUCAHX8L"
        case .dpuczdi4g: "DPUCZDI4G"
        case .dpucvdx8h: "DPUCVDX8H"
        case .dpucvdx8g: "DPUCVDX8G"
        case .dpucadf8h: "DPUCADF8H"
        case .ipuPHX: "IPU_PHX"
        case .dpucv2dx8g: "DPUCV2DX8G"
        }
    }
}
