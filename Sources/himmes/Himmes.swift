import ArgumentParser
import Foundation
import Logging

@main
struct Himmes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "himmes",
        abstract: "HIM-MES: vibration data pipeline for rotating machines.",
        discussion: """
            Stores vibration samples and fault diagnoses, serves them over a REST API with OpenAPI \
            documentation at /docs, and keeps everything in one embedded SQLite file by default.
            """,
        subcommands: [Serve.self, Import.self, Export.self, Diagnose.self, Generate.self, Simulate.self, Keys.self, Migrate.self, Bench.self],
        defaultSubcommand: nil
    )
}

/// Flags shared by every command that opens the database.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "SQLite database file; created and migrated when missing. [env: HIMMES_DB] (default: himmes.sqlite)")
    var db: String?

    var path: String { Environment.value(flag: db, variable: "HIMMES_DB", default: "himmes.sqlite") }
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
    static func value(flag: String?, variable: String, default fallback: String) -> String {
        if let flag { return flag }
        if let env = ProcessInfo.processInfo.environment[variable], !env.isEmpty { return env }
        return fallback
    }

    static func list(flag: [String], variable: String) -> [String] {
        if !flag.isEmpty { return flag }
        guard let env = ProcessInfo.processInfo.environment[variable], !env.isEmpty else { return [] }
        return env.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
