import ArgumentParser
import Foundation
import NIOCore
import VibrationCore
import VibrationPipeline
import VibrationServer
import VibrationStore

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Load CSV files of vibration samples, skipping samples already stored.",
        discussion: """
            Reads .csv and .csv.gz files (and .tsv, as `mysql --batch` writes them), folders of them, or '-' \
            for standard input, as streams with constant memory. A file whose header names detected_at and \
            fault_type (the original system's vibration_diagnosis table, exported) loads as diagnoses. The product's layout has a header naming its columns; the original data \
            set's headerless five-column files (time, normal, type1, type2, type3) take their machine and \
            sensor from a name like g1_sensor1.csv (or --machine and --sensor) and their start time from \
            --start (else the file's modification time). Rejected rows are listed with line, column and \
            reason; the exit status is 1 when any row was rejected.
            """)

    @Argument(help: "CSV files (.csv, .csv.gz), folders of them, or '-' for standard input.")
    var inputs: [String]

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Machine of headerless original-layout files (default: from the file name).")
    var machine: String?
    @Option(help: "Sensor of headerless original-layout files (default: from the file name).")
    var sensor: String?
    @Option(help: "Start of the recording in original-layout files (default: the file's modification time).")
    var start: String?
    @Option(
        help: """
            IANA time zone of times written without an offset (collected_at, --start), e.g. Asia/Seoul; \
            stored times stay UTC. [env: HIMMES_TIME_ZONE] (default: UTC)
            """)
    var timeZone: String?
    @Flag(help: "Print the report as JSON.") var json = false
    @Option(help: "Write every rejected row (line, column, reason) to this file.") var errorsOut: String?
    @Flag(help: "No progress line.") var quiet = false
    @Flag(help: "Load only; leave the new data for the engine to diagnose later (himmes diagnose, or the server).")
    var noDiagnose = false

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        let zone = try PlantTimeZone.named(Settings(flags: ["time-zone": timeZone]).string("time-zone", default: "UTC"))
        if let start, Timestamp(parsing: start, zone: zone) == nil {
            throw ValidationError("--start '\(start)' is not an RFC 3339 time")
        }
    }

    func run() async throws {
        let logger = try logging.bootstrap()
        let files = try ImportInput.expand(inputs)
        try await database.withStore(logger: logger) { store in
            let importer = SampleImporter(store: store)
            let zone = try PlantTimeZone.named(Settings(flags: ["time-zone": timeZone]).string("time-zone", default: "UTC"))
            let errorsFile = try errorsOut.map { try OutputSink(path: $0) }
            let errorLines = ErrorLines(sink: errorsFile)
            let progress = SampleImporter.Progress()
            let totalBytes = files.reduce(0) { $0 + ($1.size ?? 0) }
            let display = quiet || isatty(STDERR_FILENO) == 0 ? nil : ProgressLine(progress: progress, totalBytes: files.allSatisfy { $0.size != nil } ? totalBytes : nil)
            display?.start()

            // The engine diagnoses as the load goes: each round takes the windows completed since the
            // last one (from the rows the load hands it in memory, where the store keeps them), so that
            // little is left once the last row is stored.
            let engine = noDiagnose ? nil : DiagnosisService(store: store, logger: logger)
            let loaded = Latch()
            let alongside: Task<DiagnosisService.Run, any Error>? = engine.map { engine in
                Task {
                    var run = DiagnosisService.Run()
                    while !loaded.isSet {
                        run.add(try await engine.run())
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    return run
                }
            }

            var total = IngestReport()
            let clock = ContinuousClock()
            let started = clock.now
            var failure: (file: String, error: any Error)?
            for file in files {
                let layout = SampleCSVParser.Layout.detect(original: file.originalSource(machine: machine, sensor: sensor, start: start.flatMap { Timestamp(parsing: $0, zone: zone) }))
                do {
                    let handle = file.path == "-" ? FileHandle.standardInput : try FileHandle(forReadingFrom: URL(fileURLWithPath: file.path))
                    defer { if file.path != "-" { try? handle.close() } }
                    let chunks = FileChunks(handle: handle)
                    let report: IngestReport
                    let name = file.path
                    if file.path != "-", try await file.holdsDiagnoses() {
                        report = try await Self.importDiagnoses(file, into: store, zone: zone) { errorLines.write($0, file: name) }
                    } else if file.gzip {
                        report = try await importer.importCSV(GunzippedChunks(chunks), layout: layout, zone: zone, progress: progress) { errorLines.write($0, file: name) }
                    } else {
                        report = try await importer.importCSV(chunks, layout: layout, zone: zone, progress: progress) { errorLines.write($0, file: name) }
                    }
                    total.received += report.received
                    total.inserted += report.inserted
                    total.duplicates += report.duplicates
                    total.record(report.errors)
                    total.rejected += report.rejected - min(report.rejected, report.errors.count)
                } catch {
                    failure = (file.path, error)
                    break
                }
            }
            total.elapsedSeconds = (clock.now - started).inSeconds
            display?.stop()
            try errorsFile?.close()
            if let failure {
                // What was committed before the failure stays; a second run skips it as duplicates.
                FileHandle.standardError.write(Data("error: \(failure.file): \(failure.error)\n".utf8))
                total.received = progress.received
                total.inserted = progress.inserted
                total.duplicates = progress.duplicates
            }
            loaded.set()
            var diagnosed = try await alongside?.value
            print(json ? total.jsonText : total.text(files: files.count))
            if failure == nil, let engine {
                diagnosed?.add(try await engine.run())
                if !json, let diagnosed { print(diagnosed.summary) }
            }
            if failure != nil || total.rejected > 0 { throw ExitCode(1) }
        }
    }
}

extension Import {
    /// A diagnosis table export (CSV or `mysql --batch` TSV), read whole: diagnoses are few beside
    /// samples. The table has no identity key, so loading the same export twice stores it twice.
    static func importDiagnoses(
        _ file: ImportInput, into store: any Store, zone: PlantTimeZone, rejected: ([RowError]) -> Void
    ) async throws -> IngestReport {
        let clock = ContinuousClock()
        let started = clock.now
        let data = try await file.contents(limit: 1 << 30)
        let read = try DiagnosisReader.csv(data, now: .now, zone: zone)
        var report = IngestReport()
        report.received = read.received
        report.record(read.rejected)
        rejected(read.rejected)
        report.inserted = try await store.insert(read.rows)
        report.elapsedSeconds = (clock.now - started).inSeconds
        return report
    }
}

/// One input of `himmes import`, with what its name says about it.
struct ImportInput {
    var path: String
    var size: Int?
    var modified: Date?

    var gzip: Bool { path.hasSuffix(".gz") }

    /// The file's bytes, inflated when gzip, up to `limit`.
    func contents(limit: Int) async throws -> Data {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var data = Data()
        func add(_ chunk: ByteBuffer) throws {
            guard data.count + chunk.readableBytes <= limit else { throw ValidationError("\(path): larger than \(limit) bytes") }
            data.append(contentsOf: chunk.readableBytesView)
        }
        if gzip {
            for try await chunk in GunzippedChunks(FileChunks(handle: handle)) { try add(chunk) }
        } else {
            for try await chunk in FileChunks(handle: handle) { try add(chunk) }
        }
        return data
    }

    /// Whether the first line names the columns of the diagnosis table (detected_at and fault_type).
    func holdsDiagnoses() async throws -> Bool {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var first: ByteBuffer?
        if gzip {
            var chunks = GunzippedChunks(FileChunks(handle: handle, chunkSize: 1 << 16)).makeAsyncIterator()
            first = try await chunks.next()
        } else {
            var chunks = FileChunks(handle: handle, chunkSize: 1 << 16).makeAsyncIterator()
            first = try await chunks.next()
        }
        guard let first else { return false }
        let line = first.readableBytesView.prefix { $0 != 0x0A }
        let names = String(decoding: line, as: UTF8.self).lowercased()
            .split(whereSeparator: { $0 == "," || $0 == "\t" }).map { $0.trimmingCharacters(in: .whitespacesAndNewlines.union(["\""])) }
        return names.contains("detected_at") && names.contains("fault_type")
    }

    /// Files as given; folders become their .csv and .tsv files (gzip too) in name order.
    static func expand(_ inputs: [String]) throws -> [ImportInput] {
        var files: [ImportInput] = []
        let manager = FileManager.default
        for input in inputs {
            if input == "-" {
                files.append(ImportInput(path: "-"))
                continue
            }
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: input, isDirectory: &isDirectory) else {
                throw ValidationError("\(input): no such file or folder")
            }
            if isDirectory.boolValue {
                let names = try manager.contentsOfDirectory(atPath: input)
                    .filter { [".csv", ".csv.gz", ".tsv", ".tsv.gz"].contains(where: $0.hasSuffix) }.sorted()
                files += try names.map { try file((input as NSString).appendingPathComponent($0)) }
            } else {
                files.append(try file(input))
            }
        }
        guard !files.isEmpty else { throw ValidationError("no .csv or .csv.gz files in \(inputs.joined(separator: ", "))") }
        return files
    }

    static func file(_ path: String) throws -> ImportInput {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return ImportInput(
            path: path, size: (attributes[.size] as? NSNumber)?.intValue, modified: attributes[.modificationDate] as? Date)
    }

    /// For headerless original-layout files: machine and sensor from flags or from a name like
    /// `g1_sensor1.csv`; the start from the flag or the file's modification time.
    func originalSource(machine: String?, sensor: String?, start: Timestamp?) -> SampleCSVParser.OriginalSource? {
        var stem = (path as NSString).lastPathComponent
        for suffix in [".gz", ".csv", ".txt"] where stem.hasSuffix(suffix) { stem = String(stem.dropLast(suffix.count)) }
        let parts = stem.split(separator: "_", maxSplits: 1).map(String.init)
        guard let machineName = machine ?? (parts.count == 2 ? parts[0] : nil),
            let sensorNo = sensor ?? (parts.count == 2 ? parts[1] : nil)
        else { return nil }
        return SampleCSVParser.OriginalSource(
            machineName: machineName, sensorNo: sensorNo, start: start ?? modified.map(Timestamp.init) ?? .now)
    }
}

/// Writes rejected rows to the --errors-out file as CSV: file, line, column, message.
final class ErrorLines: Sendable {
    let sink: OutputSink?
    let lock = NSLock()

    init(sink: OutputSink?) {
        self.sink = sink
        if let sink { try? sink.write(Array("file,line,column,message\n".utf8)) }
    }

    func write(_ errors: [RowError], file: String) {
        guard let sink else { return }
        var out = ""
        for error in errors {
            out += "\(csvField(file)),\(error.line),\(csvField(error.column)),\(csvField(error.message))\n"
        }
        lock.withLock { try? sink.write(Array(out.utf8)) }
    }

    /// A cell of the errors file: marked when a spreadsheet would run it (the messages quote what
    /// the rejected rows held), quoted when it must be.
    func csvField(_ text: String) -> String {
        let marked = String(decoding: SpreadsheetText.escaped(Array(text.utf8)), as: UTF8.self)
        return marked.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + marked.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : marked
    }
}

extension OutputSink: @unchecked Sendable {}

extension IngestReport {
    func text(files: Int) -> String {
        var lines = [
            "read        \(received.grouped) rows\(files > 1 ? " from \(files) files" : "")",
            "inserted    \(inserted.grouped)",
            "duplicates  \(duplicates.grouped)",
            "rejected    \(rejected.grouped)",
            String(format: "elapsed     %.2f s (%@ rows/s)", elapsedSeconds, Int(rowsPerSecond).grouped),
        ]
        if !errors.isEmpty {
            lines.append("")
            lines.append("rejected rows\(rejected > errors.count ? " (first \(errors.count) of \(rejected.grouped))" : ""):")
            lines += errors.map { "  \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
