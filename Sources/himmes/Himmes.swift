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
    var path: String { Environment.value(flag: db, variable: "HIMMES_DB", default: "himmes.sqlite") }

    /// Runs `body` on the store, running while the body does.
    func withStore<T>(logger: Logger, _ body: (any Store) async throws -> T) async throws -> T {
        try await StoreLocation.withStore(path, logger: logger, body)
    }
}

struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical. [env: HIMMES_LOG_LEVEL] (default: info)")
    var logLevel: String?

    func level() throws -> Logger.Level {
        let text = Environment.value(flag: logLevel, variable: "HIMMES_LOG_LEVEL", default: "info")
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError("unknown log level '\(text)'")
        }
        return level
    }

    func bootstrap() throws -> Logger {
        let level = try level()
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

/// Flags first, then the `HIMMES_*` environment, then the default.
enum Environment {
    /// The plant's zone from the flag, else `HIMMES_TIME_ZONE`, else UTC.
    static func timeZone(flag: String?) throws -> PlantTimeZone {
        let text = value(flag: flag, variable: "HIMMES_TIME_ZONE", default: "UTC")
        guard let zone = PlantTimeZone(identifier: text) else {
            throw ValidationError("--time-zone must be an IANA zone name such as Asia/Seoul or Europe/Berlin (or UTC), got '\(text)'")
        }
        return zone
    }

    static func value(flag: String?, variable: String, default fallback: String) -> String {
        if let flag { return flag }
        if let env = ProcessInfo.processInfo.environment[variable], !env.isEmpty { return env }
        return fallback
    }

    /// A whole number from the flag, else the variable, else the default, at least `minimum`.
    static func integer(flag: Int?, variable: String, default fallback: Int, minimum: Int, name: String) throws -> Int {
        let text = flag.map(String.init) ?? value(flag: nil, variable: variable, default: String(fallback))
        guard let number = Int(text), number >= minimum else {
            throw ValidationError("\(name) must be a whole number of at least \(minimum), got '\(text)'")
        }
        return number
    }

    static func flag(_ flag: Bool, variable: String) -> Bool {
        if flag { return true }
        let env = ProcessInfo.processInfo.environment[variable]?.lowercased() ?? ""
        return ["1", "true", "yes", "on"].contains(env)
    }

    static func list(flag: [String], variable: String) -> [String] {
        if !flag.isEmpty { return flag }
        guard let env = ProcessInfo.processInfo.environment[variable], !env.isEmpty else { return [] }
        return env.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
