import ArgumentParser
import Foundation
import VibrationCore

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a deterministic plant of vibration recordings as CSV.",
        discussion: """
            The defaults reproduce the shape of the rotating-machine fault data set: 2 machines x 4 sensors \
            at about 1.35 kHz with jitter, 1.5 million samples, each carrying the four conditions (normal, \
            mass unbalance, support looseness, both). The same seed always writes the same bytes.
            """)

    @Option(help: "Samples in all.") var rows = 1_500_000
    @Option(help: "Machines (g1, g2, ...).") var machines = 2
    @Option(help: "Sensors per machine (sensor1, sensor2, ...).") var sensors = 4
    @Option(help: "Mean sample rate in Hz.") var rate = 1350.0
    @Option(help: "Seed of the generator.") var seed: UInt64 = 1
    @Option(help: "Seconds per recording; measured_time restarts at 0 for each.") var recordingSeconds = 10.0
    @Option(help: "Start of the first recording.") var start = "2025-01-01T00:00:00Z"
    @Option(help: "'product': one CSV with a header. 'original': the data set's headerless gN_sensorM.csv files, into the directory --out.")
    var layout = "product"
    @Option(name: .shortAndLong, help: "Output file, '-' for standard output, or a directory for --layout original.")
    var out: String

    func validate() throws {
        guard rows >= 0, machines >= 1, sensors >= 1, rate > 0, recordingSeconds > 0 else {
            throw ValidationError("rows must be >= 0, machines, sensors, rate and recording seconds > 0")
        }
        guard Timestamp(parsing: start) != nil else { throw ValidationError("--start '\(start)' is not an RFC 3339 time") }
        guard layout == "product" || layout == "original" else {
            throw ValidationError("--layout is 'product' or 'original', got '\(layout)'")
        }
    }

    func run() throws {
        let generator = PlantGenerator(
            options: .init(
                rows: rows, machines: machines, sensors: sensors, rateHz: rate, seed: seed,
                start: Timestamp(parsing: start)!, recordingSeconds: recordingSeconds))
        if layout == "original" {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            for channel in generator.channels {
                let path = (out as NSString).appendingPathComponent("\(channel.machineName)_\(channel.sensorNo).csv")
                let sink = try OutputSink(path: path)
                try generator.writeOriginalCSV(of: channel) { try sink.write($0) }
                try sink.close()
            }
            return
        }
        let sink = try OutputSink(path: out)
        try generator.writeCSV { try sink.write($0) }
        try sink.close()
    }
}

/// A file, or standard output for "-", written in large blocks.
final class OutputSink {
    let handle: FileHandle
    let ownsHandle: Bool

    init(path: String) throws {
        if path == "-" {
            handle = .standardOutput
            ownsHandle = false
        } else {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw ValidationError("cannot create \(path)")
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            ownsHandle = true
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try handle.write(contentsOf: bytes)
    }

    func close() throws {
        if ownsHandle { try handle.close() }
    }
}
