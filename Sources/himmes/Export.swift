import ArgumentParser
import Foundation
import VibrationCore
import VibrationServer
import VibrationStore

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write stored samples as CSV, streamed, with no row limit.",
        discussion: "The output is the layout `himmes import` reads: export then import into an empty database gives the same rows.")

    @OptionGroup var database: DatabaseOptions
    @Option(name: .customLong("machine-name"), help: "Only samples of this machine.") var machineName: String?
    @Option(name: .customLong("sensor-no"), help: "Only samples of this sensor.") var sensorNo: String?
    @Option(help: "Earliest collected_at, inclusive: an RFC 3339 time or a date.") var from: String?
    @Option(help: "Latest collected_at, inclusive: an RFC 3339 time or a date (the whole day).") var to: String?
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
        let store = try await database.open(logger: logger)
        let sink = try OutputSink(path: out)
        for try await chunk in SampleCSVExport(store: store, filter: filter) {
            try sink.write(chunk)
        }
        try sink.close()
    }
}
