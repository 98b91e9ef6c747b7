import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import VibrationCore

/// The store for plants that outgrow one machine: PostgreSQL through postgres-nio's connection pool.
/// It keeps the behaviour of `SQLiteStore` (the same store tests run on both); sample writes are
/// serialised by an advisory lock, as SQLite serialises them by its single writer, while the COPY
/// of each batch into a session's staging table runs in parallel.
public final class PostgresStore: Store {
    let client: PostgresClient
    let logger: Logger
    public let location: PostgresLocation
    public let maximumConnections: Int
    /// The pool's run when the store runs it itself (`start`).
    private let background = BackgroundRun()

    /// Connects, makes the schema when missing and brings it up to date, on a connection of its
    /// own. The pool's connections are made once the store runs (`run`, or `start`).
    public static func connect(
        _ location: PostgresLocation, maximumConnections: Int = 16, logger: Logger = Logger(label: "himmes.store")
    ) async throws -> PostgresStore {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: location.connectionConfiguration(), id: 0, logger: logger)
        } catch {
            // The pool would retry a server that is down, or a wrong password, for ever; this says
            // at once what is wrong.
            throw PostgresStoreError.unreachable(location.description, PostgresStoreError.explain(error))
        }
        do {
            try await migrate(connection, location: location, logger: logger)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw PostgresStoreError.unreachable(location.description, PostgresStoreError.explain(error))
        }
        return PostgresStore(location: location, maximumConnections: maximumConnections, logger: logger)
    }

    public static func connect(url: String, logger: Logger = Logger(label: "himmes.store")) async throws -> PostgresStore {
        try await connect(PostgresLocation(url: url), logger: logger)
    }

    init(location: PostgresLocation, maximumConnections: Int, logger: Logger) {
        self.client = PostgresClient(
            configuration: location.clientConfiguration(maximumConnections: maximumConnections), backgroundLogger: logger)
        self.logger = logger
        self.location = location
        self.maximumConnections = maximumConnections
    }

    /// Runs the connection pool until cancelled or shut down gracefully; queries wait until it runs.
    public func run() async throws {
        await client.run()
    }

    public func start() {
        background.start { [client] in await client.run() }
    }

    public func close() {
        background.stop()
    }

    deinit { background.stop() }

    // MARK: Queries

    @discardableResult
    func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await client.query(query, logger: logger)
    }

    func all<each C: PostgresDecodable & Sendable>(_ query: PostgresQuery, _ types: (repeat each C).Type) async throws
        -> [(repeat each C)]
    {
        var rows: [(repeat each C)] = []
        for try await row in try await client.query(query, logger: logger).decode(types) { rows.append(row) }
        return rows
    }

    /// `all` for a query on sample ids, planned to read the id index whatever the statistics say:
    /// until a partition written by small uploads is first analysed, the planner takes its block
    /// ranges to be unordered and scans every row instead, which with the engine scanning each second
    /// makes a load's cost grow with the square of its size.
    func allByID<each C: PostgresDecodable & Sendable>(_ query: PostgresQuery, _ types: (repeat each C).Type) async throws
        -> [(repeat each C)]
    {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET LOCAL enable_seqscan = off", logger: logger)
            try await connection.query("SET LOCAL max_parallel_workers_per_gather = 0", logger: logger)
            var rows: [(repeat each C)] = []
            for try await row in try await connection.query(query, logger: logger).decode(types) { rows.append(row) }
            return rows
        }
    }

    func one<C: PostgresDecodable & Sendable>(_ query: PostgresQuery, _ type: C.Type) async throws -> C? {
        try await client.query(query, logger: logger).first(type)
    }

    /// Runs the body in a transaction that holds the sample write lock.
    func writing<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(unescaped: PostgresSchema.writeLock))", logger: logger)
            return try await body(connection)
        }
    }

    // MARK: Migrations

    private static func migrate(_ connection: PostgresConnection, location: PostgresLocation, logger: Logger) async throws {
        do {
            if let schema = location.schema {
                try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: "\"\(schema)\"")", logger: logger)
            }
            try await connection.query("SELECT pg_advisory_lock(\(unescaped: PostgresSchema.migrationLock))", logger: logger)
            do {
                try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.migrationTable), logger: logger)
                let applied = Set(try await connection.query("SELECT name FROM himmes_migrations", logger: logger).values(String.self))
                for migration in PostgresSchema.migrations where !applied.contains(migration.name) {
                    logger.info("migrating database", metadata: ["database": .string(location.description), "migration": .string(migration.name)])
                    try await connection.withTransaction(logger: logger) { connection in
                        // The extended protocol takes one statement at a time.
                        for statement in PostgresSchema.statements(migration.sql) {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await connection.query("INSERT INTO himmes_migrations (name) VALUES (\(migration.name))", logger: logger)
                    }
                }
                // Months ahead of the clock, so that live data never waits on making one.
                try await connection.query(
                    "SELECT himmes_ensure_partitions(ARRAY[now(), now() + interval '1 month', now() + interval '2 months'])",
                    logger: logger)
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(unescaped: PostgresSchema.migrationLock))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(unescaped: PostgresSchema.migrationLock))", logger: logger)
        }
    }

    public func migrationStatus() async throws -> [(name: String, applied: Bool)] {
        let applied = Set(try await query("SELECT name FROM himmes_migrations").values(String.self))
        return PostgresSchema.migrations.map { ($0.name, applied.contains($0.name)) }
    }

    public func statistics() async throws -> StoreStatistics {
        let bytes = try await one("SELECT pg_database_size(current_database())", Int64.self) ?? 0
        let openAlarms = try await one("SELECT count(*) FROM alarms WHERE closed_at IS NULL", Int64.self) ?? 0
        return StoreStatistics(databaseBytes: Int(bytes), walBytes: 0, maximumConnections: maximumConnections, openAlarms: Int(openAlarms))
    }

    public func ping() async throws {
        _ = try await one("SELECT 1", Int.self)
    }
}
