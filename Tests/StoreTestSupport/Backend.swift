import Foundation
import Logging
import PostgresNIO
import VibrationCore
import VibrationStore

/// A fresh, empty store of one backend per test. Suites take their backends as arguments so that
/// the same tests hold every implementation of `Store` to the same behaviour. PostgreSQL takes part
/// when `HIMMES_TEST_POSTGRES_URL` names a server (each test gets a schema of its own).
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public static let postgresURL: String? = {
        guard let url = ProcessInfo.processInfo.environment["HIMMES_TEST_POSTGRES_URL"], !url.isEmpty else {
            print("HIMMES_TEST_POSTGRES_URL is not set: tests parameterised by backend run on SQLite only and skip PostgreSQL")
            return nil
        }
        return url
    }()

    /// A streaming-replication standby of that server (`HIMMES_TEST_STANDBY_URL`), when there is one.
    public static let standbyURL: String? = {
        guard let url = ProcessInfo.processInfo.environment["HIMMES_TEST_STANDBY_URL"], !url.isEmpty else {
            print("HIMMES_TEST_STANDBY_URL is not set: tests of reads from a standby are skipped")
            return nil
        }
        return url
    }()

    /// Whether a PostgreSQL test server is named.
    public static var hasPostgres: Bool { postgresURL != nil }

    /// SQLite always; PostgreSQL when a test server is named.
    public static var available: [Backend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    public var description: String { rawValue }

    /// The store runs its background work itself (`start`) until the test lets it go.
    public func makeStore() async throws -> any Store {
        // Every test makes a store: its migrations are not news.
        var logger = Logger(label: "himmes.store")
        logger.logLevel = .warning
        switch self {
        case .sqlite:
            let store = try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("test.sqlite").path, logger: logger)
            store.start()
            return store
        case .postgres:
            let location = try Self.freshPostgresLocation()
            await OldTestSchemas.shared.dropOnce(location)
            let store = try await PostgresStore.connect(location, maximumConnections: 4, logger: logger)
            store.start()
            return store
        }
    }

    /// The test server with a new, empty schema.
    public static func freshPostgresLocation() throws -> PostgresLocation {
        guard let url = postgresURL else { throw CancellationError() }
        var location = try PostgresLocation(url: url)
        location.schema = "t_\(Int(Date().timeIntervalSince1970))_" + UUID().uuidString.prefix(8).lowercased()
        return location
    }
}

/// The schemas of test runs over an hour old, dropped once per test process: a server kept for
/// development would otherwise collect a schema for every test of every run.
actor OldTestSchemas {
    static let shared = OldTestSchemas()
    private var done = false

    func dropOnce(_ location: PostgresLocation) async {
        guard !done else { return }
        done = true
        let configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: .disable)
        guard
            let connection = try? await PostgresConnection.connect(
                configuration: configuration, id: 1, logger: Logger(label: "himmes.tests"))
        else { return }
        let cutoff = Int(Date().timeIntervalSince1970) - 3_600
        var old: [String] = []
        if let rows = try? await connection.query("SELECT nspname::text FROM pg_namespace WHERE nspname ~ '^t_[0-9]+_[0-9a-f]{8}$'", logger: connection.logger) {
            do {
                for try await name in rows.decode(String.self) {
                    if let made = Int(name.split(separator: "_")[1]), made < cutoff { old.append(name) }
                }
            } catch {}
        }
        for name in old {
            _ = try? await connection.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(name)\" CASCADE"), logger: connection.logger)
        }
        try? await connection.close()
    }
}

/// Folders for the tests' databases and files, all inside one folder of the test process that is
/// removed when the process exits.
public enum TemporaryDirectory {
    static let root: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "himmes-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        atexit { try? FileManager.default.removeItem(at: TemporaryDirectory.root) }
        return url
    }()

    public static func make() throws -> URL {
        let url = root.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

extension Store {
    /// Rows stored, counted through the store's own reads (not through the API under test).
    public func sampleCount() async throws -> Int {
        try await machines().reduce(0) { $0 + Int($1.sampleCount) }
    }

    public func diagnosisCount() async throws -> Int {
        try await diagnoses(matching: DiagnosisFilter(), after: nil, limit: Int.max).count
    }
}
