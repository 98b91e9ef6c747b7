import Logging

/// Opens the store a `--db` value names: a PostgreSQL URL (`postgres://…`) or an SQLite file path.
public enum StoreLocation {
    public static func open(_ text: String, logger: Logger) async throws -> any Store {
        if PostgresLocation.isURL(text) {
            return try await PostgresStore.connect(PostgresLocation(url: text), logger: logger)
        }
        return try SQLiteStore(path: text, logger: logger)
    }

    /// The value as it may be shown in logs: without a password.
    public static func display(_ text: String) -> String {
        PostgresLocation.isURL(text) ? PostgresLocation.redacted(text) : text
    }
}
