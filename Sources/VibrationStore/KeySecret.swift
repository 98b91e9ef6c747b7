import Crypto
import Foundation

/// API key secrets: made here, stored as their SHA-256 only.
enum KeySecret {
    /// A new secret: "hm_" and 32 random bytes in hex.
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return "hm_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    static func digest(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
