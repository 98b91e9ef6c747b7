import ArgumentParser
import Foundation
import VibrationCore
import VibrationPipeline
import VibrationServer
import VibrationStore

struct Diagnose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Diagnose stored samples with the built-in engine.",
        discussion: """
            Without options, diagnoses every complete one-second window not diagnosed yet, on each \
            machine's monitored channel. With --machine, --from or --to, the engine's earlier verdicts in \
            that range are dropped and the windows diagnosed again (after changing a machine's rpm or \
            channel, say). --channel diagnoses other columns too (all four with 'all'); only the monitored \
            channel moves machine states and alarms.
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Only this machine (its earlier verdicts are redone).") var machine: String?
    @Option(help: "Channel: normal, unbalance, looseness, unbalance_looseness, or all (default: each machine's own).")
    var channel: String?
    @Option(help: "Redo verdicts from this time (RFC 3339 time or date).") var from: String?
    @Option(help: "Redo verdicts up to this time (RFC 3339 time or date, inclusive).") var to: String?
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = try logging.bootstrap()
        var channels: [SignalChannel]?
        if let channel {
            if channel == "all" {
                channels = SignalChannel.allCases
            } else if let one = SignalChannel(rawValue: channel) {
                channels = [one]
            } else {
                throw ValidationError("--channel is one of normal, unbalance, looseness, unbalance_looseness, all; got '\(channel)'")
            }
        }
        let fromTime = try from.map { text -> Timestamp in
            guard let t = Timestamp(parsingBound: text, upper: false) else { throw ValidationError("--from '\(text)' is not a time or date") }
            return t
        }
        let toTime = try to.map { text -> Timestamp in
            guard let t = Timestamp(parsingBound: text, upper: true) else { throw ValidationError("--to '\(text)' is not a time or date") }
            return t
        }
        try await database.withStore(logger: logger) { store in
            if machine != nil || fromTime != nil || toTime != nil {
                let dropped = try await store.forgetEngineDiagnoses(machineName: machine, from: fromTime, to: toTime)
                print("dropped \(dropped.grouped) earlier verdicts")
            }
            if channels != nil { try await store.restartScan() }
            let started = Date()
            let run = try await DiagnosisService(store: store, logger: logger).run(channels: channels)
            print(run.summary + String(format: " in %.2f s", Date().timeIntervalSince(started)))
        }
    }
}

extension DiagnosisService.Run {
    var summary: String {
        let counts = FaultType.allCases.map { "\($0.name) \(byFault[$0, default: 0].grouped)" }.joined(separator: ", ")
        var text = "diagnosed \(windows.grouped) windows (\(counts))"
        if skipped > 0 { text += ", \(skipped.grouped) too short to analyse" }
        text += "; \(alarmsOpened.count) alarms opened"
        return text
    }
}
