import Logging

/// Opens the store a `--db` value names: a PostgreSQL URL (`postgres://…`) or an SQLite file path.
public enum StoreLocation {
    public static func open(_ text: String, logger: Logger) async throws -> any Store {
        if PostgresLocation.isURL(text) {
            return try await PostgresStore.connect(PostgresLocation(url: text), logger: logger)
        }
        return try SQLiteStore(path: text, logger: logger)
    }

    /// Opens the store, runs `body` on it while its background work runs beside, then stops that
    /// work: for a command that uses the store and ends.
    public static func withStore<T>(_ text: String, logger: Logger, _ body: (any Store) async throws -> T) async throws -> T {
        let store = try await open(text, logger: logger)
        return try await store.whileRunning { try await body(store) }
    }

    /// The value as it may be shown in logs: without a password.
    public static func display(_ text: String) -> String {
        PostgresLocation.isURL(text) ? PostgresLocation.redacted(text) : text
    }
}

extension StoreAdministration {
    /// Runs `body` while the store's background work runs beside it, then stops that work. The
    /// work begins first: PostgreSQL's pool warns of queries made before it runs.
    public func whileRunning<T>(_ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.run() }
            defer { group.cancelAll() }
            try? await Task.sleep(for: .milliseconds(20))
            return try await body()
        }
    }
}
