import PostgresNIO
import VibrationCore

extension PostgresStore {
    typealias KeyRow = (Int64, String, Bool, Timestamp, Timestamp?)
    static let keyColumns = "id, name, read_only, created_at, revoked_at"

    static func apiKey(_ r: KeyRow) -> APIKey {
        APIKey(id: r.0, name: r.1, readOnly: r.2, createdAt: r.3, revokedAt: r.4)
    }

    public func createKey(name: String, readOnly: Bool) async throws -> (key: APIKey, secret: String) {
        let secret = KeySecret.make()
        let created = Timestamp.now
        let rows = try await all(
            """
            INSERT INTO api_keys (name, secret_sha256, read_only, created_at)
            VALUES (\(name), \(KeySecret.digest(secret)), \(readOnly), \(created))
            ON CONFLICT (name) DO NOTHING RETURNING \(unescaped: Self.keyColumns)
            """, KeyRow.self)
        guard let row = rows.first else { throw StoreError.keyNameTaken(name) }
        return (Self.apiKey(row), secret)
    }

    public func apiKeys() async throws -> [APIKey] {
        try await all("SELECT \(unescaped: Self.keyColumns) FROM api_keys ORDER BY id", KeyRow.self).map(Self.apiKey)
    }

    public func revokeKey(name: String) async throws -> Bool {
        try await !all(
            "UPDATE api_keys SET revoked_at = \(Timestamp.now) WHERE name = \(name) AND revoked_at IS NULL RETURNING id", (Int64).self
        ).isEmpty
    }

    public func authenticate(secret: String) async throws -> APIKey? {
        try await all(
            "SELECT \(unescaped: Self.keyColumns) FROM api_keys WHERE secret_sha256 = \(KeySecret.digest(secret)) AND revoked_at IS NULL",
            KeyRow.self
        ).first.map(Self.apiKey)
    }

    public func activeKey(id: Int64) async throws -> (key: APIKey, secretDigest: String)? {
        try await all(
            "SELECT \(unescaped: Self.keyColumns), secret_sha256 FROM api_keys WHERE id = \(id) AND revoked_at IS NULL",
            (Int64, String, Bool, Timestamp, Timestamp?, String).self
        ).first.map { (Self.apiKey(($0.0, $0.1, $0.2, $0.3, $0.4)), $0.5) }
    }

    public func hasKeys() async throws -> Bool {
        try await one("SELECT EXISTS (SELECT 1 FROM api_keys)", Bool.self) ?? false
    }
}
