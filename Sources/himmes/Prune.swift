import ArgumentParser
import Foundation
import VibrationCore
import VibrationStore

struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete the samples older than a period; diagnoses, their evidence and alarms are kept.",
        discussion: """
            The cutoff is rounded down to a whole 100 seconds, so that the waveform summaries stay exact. \
            On PostgreSQL, whole months before it are dropped as partitions; on SQLite, rows are deleted \
            in short transactions, so a running server keeps serving and taking uploads meanwhile. \
            'himmes serve --retention PERIOD' does the same at start and then daily.
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Keep this much: a number and a unit, d (days), h (hours) or w (weeks), as in 90d.")
    var olderThan: RetentionPeriod
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = try logging.bootstrap()
        try await database.withStore(logger: logger) { store in
            let report = try await store.prune(before: Timestamp.now.adding(seconds: -Double(olderThan.duration.components.seconds)))
            print("pruned \(report.samplesDeleted.grouped) samples collected before \(report.cutoff)")
            if !report.partitionsDropped.isEmpty {
                print("dropped partitions: \(report.partitionsDropped.joined(separator: ", "))")
            }
        }
    }
}

/// A span of time written as a number and a unit: 90d, 36h, 2w.
struct RetentionPeriod: ExpressibleByArgument, Sendable {
    let duration: Duration
    /// As written.
    let text: String

    init?(argument: String) {
        text = argument
        guard let unit = argument.last, let count = Int(argument.dropLast()), count > 0 else { return nil }
        let hours: Int
        switch unit {
        case "h": hours = count
        case "d": hours = count * 24
        case "w": hours = count * 24 * 7
        default: return nil
        }
        duration = .seconds(hours * 3600)
    }
}
