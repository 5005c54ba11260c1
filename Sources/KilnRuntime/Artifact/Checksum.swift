import Crypto
import Foundation

/// SHA-256, the one checksum of the artifact (swift-crypto).
public enum Checksum {
    /// The size of a digest in bytes.
    public static let size = 32

    /// The SHA-256 of `data`.
    public static func sha256(_ data: some DataProtocol) -> [UInt8] {
        Array(SHA256.hash(data: data))
    }

    /// The SHA-256 of `data` as 64 lowercase hex digits (the header's model hash).
    public static func sha256Hex(_ data: some DataProtocol) -> String {
        hex(sha256(data))
    }

    /// `bytes` as lowercase hex digits.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return byte < 16 ? "0" + digits : digits
        }.joined()
    }
}

/// A running SHA-256 over bytes written in pieces.
struct RunningChecksum {
    private var hasher = SHA256()

    mutating func update(_ bytes: some DataProtocol) {
        hasher.update(data: bytes)
    }

    func finalize() -> [UInt8] {
        Array(hasher.finalize())
    }
}
