import CSQLiteSettings
import Foundation
import GRDB
import GRDBSQLite
import Logging
import ServiceLifecycle
import Synchronization
import VibrationCore

/// The embedded store: one SQLite file in WAL mode, owned by one `DatabasePool`.
public final class SQLiteStore: Store {
    let pool: DatabasePool
    public let path: String
    /// Copies the WAL into the database file beside the writer while the store runs; nil when it
    /// could not open, and then the writer's own automatic checkpoint does all the copying, as
    /// SQLite does by default.
    private let checkpointer: Checkpointer?
    private let background = BackgroundRun()
    /// The dashboard's short reads on the calling thread; nil when it could not open.
    let inline: InlineReader?
    /// What this store just wrote, kept for the diagnosis engine once it starts scanning.
    let fresh = FreshSamples()

    /// Opens (creating if needed) the database file and brings its schema up to date.
    public init(path: String, logger: Logger = Logger(label: "himmes.store")) throws {
        if Self.processSettings != SQLITE_OK {
            logger.debug("SQLite was in use before the first store opened: it keeps its default mutexes")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL with synchronous=NORMAL survives a killed process without losing a committed
            // transaction; only a power cut can lose the last few.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Larger pages halve the B-tree depth work of bulk inserts; only takes effect on a new file.
            try db.execute(sql: "PRAGMA page_size = 16384")
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        self.path = path
        self.pool = try DatabasePool(path: path, configuration: configuration)
        do {
            checkpointer = try Checkpointer(path: path)
        } catch {
            logger.warning("no background checkpoints: the writer checkpoints the WAL alone", metadata: ["error": "\(error)"])
            checkpointer = nil
        }
        inline = try? InlineReader(path: path)
        let migrator = SQLiteSchema.migrator
        let pending = try pool.read { db in try migrator.hasCompletedMigrations(db) == false }
        if pending { logger.info("migrating database", metadata: ["path": .string(path)]) }
        try migrator.migrate(pool)
    }

    /// Multi-thread mode and no memory statistics, set once before the process's first connection
    /// (see `himmes_sqlite_configure`): GRDB uses each connection from one thread at a time, so
    /// SQLite's own mutexes only cost the writer time.
    static let processSettings = himmes_sqlite_configure()

    /// The migrations this build knows and whether each is applied.
    public func migrations() throws -> [(name: String, applied: Bool)] {
        try pool.read(Self.migrationStatus)
    }

    public func migrationStatus() async throws -> [(name: String, applied: Bool)] {
        try await pool.read(Self.migrationStatus)
    }

    static func migrationStatus(_ db: Database) throws -> [(name: String, applied: Bool)] {
        let migrator = SQLiteSchema.migrator
        let applied = try migrator.appliedIdentifiers(db)
        return migrator.migrations.map { ($0, applied.contains($0)) }
    }

    public func statistics() async throws -> StoreStatistics {
        func size(_ file: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.intValue ?? 0
        }
        let openAlarms = try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM alarms WHERE closed_at IS NULL") ?? 0
        }
        return StoreStatistics(
            databaseBytes: size(path), walBytes: size(path + "-wal"),
            maximumConnections: pool.configuration.maximumReaderCount + 1, openAlarms: openAlarms)
    }

    /// Checkpoints the WAL beside the writer until cancelled or shut down gracefully.
    public func run() async throws {
        await cancelWhenGracefulShutdown { [checkpointer] in await checkpointer?.run() }
    }

    public func start() {
        background.start { [checkpointer] in await checkpointer?.run() }
    }

    /// Stops the checkpoints `start` began; the pool closes when the store is released (SQLite
    /// checkpoints the WAL as the last connection closes).
    public func close() {
        background.stop()
    }

    deinit {
        background.stop()
    }

    /// Runs SQLite's passive checkpoint twenty times a second on a connection of its own, so that the
    /// writer does not spend its own time copying the WAL into the database file. A passive
    /// checkpoint never waits for readers or the writer. The writer's own
    /// automatic checkpoint stays on: it finds nearly every frame copied already, copies the rest, and
    /// so lets the next transaction start the WAL again from its beginning (the background one alone,
    /// always a few commits behind, never would, and the WAL would grow without bound under uploads).
    final class Checkpointer: Sendable {
        private let connection: DatabaseQueue
        private let interval: Duration

        init(path: String, every interval: Duration = .milliseconds(50)) throws {
            var configuration = Configuration()
            configuration.label = "himmes.checkpoint"
            connection = try DatabaseQueue(path: path, configuration: configuration)
            self.interval = interval
        }

        /// Checkpoints until cancelled.
        func run() async {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                // Busy (another process's checkpoint running) or failing: the next round tries again.
                _ = try? await connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            }
        }
    }

    /// A read-only connection of its own that runs short reads (a page of a table, a waveform's
    /// summary rows, the latest diagnoses, the alarms) on the thread that asks, when no other
    /// thread is using it. A read through the pool hands the work to one of the pool's threads and the
    /// answer back to the caller's; with uploads streaming in and every core busy, waiting for those
    /// two threads to be scheduled costs far more than a short read itself.
    final class InlineReader: Sendable {
        private let connection: DatabaseQueue
        private let busy = Atomic<Bool>(false)

        init(path: String) throws {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.label = "himmes.inline-read"
            configuration.busyMode = .timeout(1)
            connection = try DatabaseQueue(path: path, configuration: configuration)
        }

        /// The body's result, or nil when another thread is reading (the caller then reads
        /// through the pool: this never waits).
        func read<T>(_ body: (Database) throws -> T) throws -> T? {
            guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return nil }
            defer { busy.store(false, ordering: .releasing) }
            return try connection.read(body)
        }
    }

    /// A read that is `short`: on this thread through `inline` when it is free, through the pool
    /// otherwise; any other read through the pool. Short means a millisecond or less: the thread
    /// that asks is one of the few that serve every request. (The registry and the board's
    /// per-machine figures, read for every machine, stay on the pool.)
    func quickRead<T: Sendable>(short: Bool = true, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        if short, let inline, let value = try inline.read(body) { return value }
        return try await pool.read(body)
    }

    // MARK: Statements stepped through the C API, for the reads and writes of millions of rows

    /// Binds `arguments` to a cached statement, steps it and hands each row to `row` to read its
    /// columns with `sqlite3_column_*`; the statement is reset after.
    static func forEachRow(
        of statement: Statement, _ db: Database, arguments: StatementArguments, _ row: (OpaquePointer) throws -> Void
    ) throws {
        let stmt = statement.sqliteStatement
        try statement.setArguments(arguments)
        defer { sqlite3_reset(stmt) }
        while true {
            let code = sqlite3_step(stmt)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw stepError(code, db, sql: statement.sql) }
            try row(stmt)
        }
    }

    /// The error of a statement stepped through the C API.
    static func stepError(_ code: Int32, _ db: Database, sql: String? = nil) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }
}
