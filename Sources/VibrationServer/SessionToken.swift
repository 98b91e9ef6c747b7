import Crypto
import Foundation
import VibrationCore

/// A signed-in browser's session, as its cookie holds it: `s1.<key id>.<expiry>.<signature>`, the
/// signature an HMAC-SHA256 of id and expiry under the SHA-256 of the key's secret, which only the
/// database holds. The cookie so names a key without holding its secret; it ends when it expires or
/// its key is revoked; and every server on the same database can check it.
enum SessionToken {
    static let lifetimeSeconds: Int64 = 30 * 24 * 3600

    static func make(keyID: Int64, secretDigest: String, now: Timestamp) -> String {
        let expires = Int64(now.secondsSince1970) + lifetimeSeconds
        return "s1.\(keyID).\(expires).\(signature(keyID: keyID, expires: expires, secretDigest: secretDigest))"
    }

    /// The key id a cookie names, when it is well formed and not expired; the signature is checked
    /// by `isSigned` once the key's digest is read.
    static func parse(_ text: String, now: Timestamp) -> (keyID: Int64, expires: Int64, signature: String)? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "s1", let id = Int64(parts[1]), let expires = Int64(parts[2]),
            Double(expires) > now.secondsSince1970, parts[3].utf8.count == 64
        else { return nil }
        return (id, expires, String(parts[3]))
    }

    static func isSigned(_ token: (keyID: Int64, expires: Int64, signature: String), secretDigest: String) -> Bool {
        let expected = signature(keyID: token.keyID, expires: token.expires, secretDigest: secretDigest)
        // Compared in time independent of where they differ.
        return zip(expected.utf8, token.signature.utf8).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
            && expected.utf8.count == token.signature.utf8.count
    }

    private static func signature(keyID: Int64, expires: Int64, secretDigest: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("\(keyID).\(expires)".utf8), using: SymmetricKey(data: Data(secretDigest.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }
}
