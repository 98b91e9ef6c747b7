import Foundation
import GRDB
import VibrationCore

extension SQLiteStore {
    static func apiKey(_ row: Row) -> APIKey {
        APIKey(
            id: row["id"], name: row["name"], readOnly: row["read_only"], createdAt: Timestamp(microseconds: row["created_at"]),
            revokedAt: (row["revoked_at"] as Int64?).map(Timestamp.init(microseconds:)))
    }

    public func createKey(name: String, readOnly: Bool) async throws -> (key: APIKey, secret: String) {
        let secret = KeySecret.make()
        let created = Timestamp.now
        return try await pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM api_keys WHERE name = ?)", arguments: [name]) == true {
                throw StoreError.keyNameTaken(name)
            }
            try db.execute(
                sql: "INSERT INTO api_keys (name, secret_sha256, read_only, created_at) VALUES (?, ?, ?, ?)",
                arguments: [name, KeySecret.digest(secret), readOnly, created.microseconds])
            return (APIKey(id: db.lastInsertedRowID, name: name, readOnly: readOnly, createdAt: created, revokedAt: nil), secret)
        }
    }

    public func apiKeys() async throws -> [APIKey] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM api_keys ORDER BY id").map(Self.apiKey) }
    }

    public func revokeKey(name: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                arguments: [Timestamp.now.microseconds, name])
            return db.changesCount > 0
        }
    }

    public func authenticate(secret: String) async throws -> APIKey? {
        let digest = KeySecret.digest(secret)
        return try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE secret_sha256 = ? AND revoked_at IS NULL", arguments: [digest])
                .map(Self.apiKey)
        }
    }

    public func activeKey(id: Int64) async throws -> (key: APIKey, secretDigest: String)? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ? AND revoked_at IS NULL", arguments: [id])
                .map { (Self.apiKey($0), $0["secret_sha256"]) }
        }
    }

    public func hasKeys() async throws -> Bool {
        try await pool.read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM api_keys)") ?? false }
    }
}
