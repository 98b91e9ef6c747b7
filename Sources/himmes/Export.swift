import ArgumentParser
import Foundation
import VibrationCore
import VibrationPipeline
import VibrationServer
import VibrationStore

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write stored samples as CSV, streamed, with no row limit.",
        discussion: "The output is the layout `himmes import` reads: export then import into an empty database gives the same rows. With a range, rows are selected by instant (their recording's start plus measured_time) unless --range-on collected-at says otherwise; by instant they come sensor by sensor.")

    @OptionGroup var database: DatabaseOptions
    @Option(name: .customLong("machine-name"), help: "Only samples of this machine.") var machineName: String?
    @Option(name: .customLong("sensor-no"), help: "Only samples of this sensor.") var sensorNo: String?
    @Option(help: "Earliest time, inclusive: an RFC 3339 time or a date.") var from: String?
    @Option(help: "Latest time, inclusive: an RFC 3339 time or a date (the whole day).") var to: String?
    @Option(
        name: .customLong("range-on"),
        help: ArgumentHelp(
            "What --from and --to select on: 'instant' (the sample's recording start plus its measured_time, as the dashboard shows it) or 'collected-at' (the stored column, as the rows were sent).",
            valueName: "instant|collected-at"))
    var rangeOn: RangeBasis = .instant
    @Option(name: .shortAndLong, help: "Output file, or '-' for standard output.") var out = "-"
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = try logging.bootstrap()
        guard from == nil || Timestamp(parsingBound: from!, upper: false) != nil else {
            throw ValidationError("--from '\(from!)' is neither an RFC 3339 time nor a date")
        }
        guard to == nil || Timestamp(parsingBound: to!, upper: true) != nil else {
            throw ValidationError("--to '\(to!)' is neither an RFC 3339 time nor a date")
        }
        let filter = try SampleFilter(
            machineName: machineName, sensorNo: sensorNo, from: from.flatMap { Timestamp(parsingBound: $0, upper: false) },
            to: to.flatMap { Timestamp(parsingBound: $0, upper: true) }
        ).validated()
        try await database.withStore(logger: logger) { store in
            let sink = try OutputSink(path: out)
            for try await chunk in SampleCSVExport(store: store, filter: filter, placement: rangeOn == .instant ? .instants : .stored) {
                try sink.write(chunk)
            }
            try sink.close()
        }
    }
}

/// What an export's time range selects on.
enum RangeBasis: String, ExpressibleByArgument, CaseIterable {
    case instant
    case collectedAt = "collected-at"
}
