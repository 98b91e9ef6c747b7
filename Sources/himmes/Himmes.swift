import ArgumentParser
import Foundation
import Logging
import Synchronization
import VibrationCore
import VibrationStore

@main
struct Himmes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "himmes",
        abstract: "HIM-MES: vibration data pipeline for rotating machines.",
        discussion: """
            Stores vibration samples and fault diagnoses, serves them over a REST API with OpenAPI \
            documentation at /docs, and keeps everything in one embedded SQLite file by default, or \
            in PostgreSQL with --db postgres://….
            """,
        subcommands: [Serve.self, Import.self, Export.self, Diagnose.self, Generate.self, Simulate.self, Keys.self, Migrate.self, Prune.self],
        defaultSubcommand: nil
    )
}

/// Flags shared by every command that opens the database.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: """
            SQLite database file, or a PostgreSQL URL (postgres://user:password@host:port/database[?sslmode=disable|prefer|require&schema=NAME]); \
            created and migrated when missing. [env: HIMMES_DB] (default: himmes.sqlite)
            """)
    var db: String?

    /// The file path or the PostgreSQL URL.
    var path: String { Settings(flags: ["db": db]).string("db", default: "himmes.sqlite") }

    /// Runs `body` on the store, running while the body does.
    func withStore<T>(logger: Logger, _ body: (any Store) async throws -> T) async throws -> T {
        try await StoreLocation.withStore(path, logger: logger, body)
    }
}

struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical. [env: HIMMES_LOG_LEVEL] (default: info)")
    var logLevel: String?

    func level() throws -> Logger.Level {
        try Self.level(Settings(flags: ["log-level": logLevel]).string("log-level", default: "info"))
    }

    static func level(_ text: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError("unknown log level '\(text)'")
        }
        return level
    }

    func bootstrap() throws -> Logger {
        try bootstrap(level: level())
    }

    func bootstrap(level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "himmes")
        logger.logLevel = level
        return logger
    }
}

extension PlantTimeZone {
    /// The zone a `--time-zone` value names (UTC when none is given).
    static func named(_ text: String?) throws -> PlantTimeZone {
        let text = text ?? "UTC"
        guard let zone = PlantTimeZone(identifier: text) else {
            throw ValidationError("--time-zone must be an IANA zone name such as Asia/Seoul or Europe/Berlin (or UTC), got '\(text)'")
        }
        return zone
    }
}
