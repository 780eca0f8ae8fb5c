import Crypto

/// The hash that identifies an input for the answer cache.
enum InputHash {
    /// SHA-256 of `bytes`, as 64 lowercase hex digits.
    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
