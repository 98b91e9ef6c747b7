import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import VibrationBenchmarks
import VibrationCore
import VibrationStore

/// The benchmarks, beside the product: each measures `himmes` (the binary next to this one) on
/// this machine and prints the figures.
@main
struct HimmesBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "himmes-bench",
        abstract: "Measure the product on this machine and print the figures.",
        discussion: "Build with -c release for figures worth quoting; `himmes` is run from the same folder as this program.",
        subcommands: [BenchIngest.self, BenchDiagnose.self, BenchDashboard.self, BenchHTTP.self, BenchCluster.self])
}

struct BenchIngest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Time bulk loading on fresh databases against the database's own bulk loader.",
        discussion: """
            Generates the CSV once, then times: `himmes import`; the same import again (must insert 0); \
            the HTTP text/csv upload; the JSON bulk endpoint in 1000-row batches; and, as the floor, the \
            database's own loader of the same file into a table without the identity key: the sqlite3 \
            shell's .import, or with --db postgres://… psql's \\copy (skipped when the tool is not \
            installed). On PostgreSQL each step gets a schema of its own, dropped after, and starts \
            after a checkpoint. Build with \
            -c release for figures worth quoting.
            """)

    @Option(help: "Rows in the generated file.") var rows = 1_500_000
    @Option(help: "Folder for the file and databases (default: a new temporary folder, removed after).") var dir: String?
    @Option(help: "Rows per JSON request.") var batch = 1000
    @Option(help: "Port for the server under test.") var port = 18_089
    @Option(help: "A PostgreSQL server to measure (postgres://user:password@host:port/database) instead of SQLite files.")
    var db: String?

    func run() async throws {
        let fm = FileManager.default
        let folder = dir ?? fm.temporaryDirectory.appendingPathComponent("himmes-bench-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { if dir == nil { try? fm.removeItem(atPath: folder) } }
        let csv = "\(folder)/plant.csv"
        let himmes = Measured.himmes
        print("generating \(rows.grouped) rows...")
        let generated = try Measured.run(himmes, ["generate", "--rows", "\(rows)", "--out", csv])
        guard generated.status == 0 else { throw ValidationError("generate failed") }
        let size = (try fm.attributesOfItem(atPath: csv)[.size] as? NSNumber)?.intValue ?? 0
        print("file: \(csv), \(size / 1_000_000) MB, written in \(String(format: "%.2f", generated.seconds)) s\n")

        var table: [(String, Double?, Int, String)] = []
        let databases = try BenchDatabases(postgresURL: db, folder: folder)
        defer { databases.dropAll() }
        // 1. The database's own loader: the floor to approach.
        var reference: Double?
        if let postgres = databases.postgres {
            if let psql = Measured.which("psql") {
                let schema = databases.newSchema("reference")
                let columns = "machine_name text, sensor_no text, collected_at timestamptz, measured_time float8, normal float8, unbalance float8, looseness float8, unbalance_looseness float8"
                _ = try Measured.run(psql, [postgres.psqlURL, "-q", "-c", "CREATE SCHEMA \(schema); CREATE TABLE \(schema).vibration_data (\(columns))"])
                databases.settle()
                let run = try Measured.run(psql, [postgres.psqlURL, "-q", "-c", "\\copy \(schema).vibration_data FROM '\(csv)' CSV HEADER"])
                guard run.status == 0 else { throw ValidationError("psql \\copy failed: \(run.output)") }
                reference = run.seconds
                table.append(("psql \\copy CSV, no key (reference)", run.seconds, rows, ""))
            } else {
                print("psql is not installed: no reference row (apt-get install postgresql-client)")
            }
        } else if let sqlite3 = Measured.which("sqlite3") {
            let db = "\(folder)/reference.sqlite"
            _ = try Measured.run(sqlite3, [db, "PRAGMA journal_mode=WAL;", "CREATE TABLE vibration_data (machine_name TEXT, sensor_no TEXT, collected_at TEXT, measured_time REAL, normal REAL, unbalance REAL, looseness REAL, unbalance_looseness REAL);"])
            let run = try Measured.run(sqlite3, [db, ".mode csv", ".import --skip 1 \(csv) vibration_data"])
            reference = run.seconds
            table.append(("sqlite3 .import, no key (reference)", run.seconds, rows, ""))
        } else {
            print("sqlite3 is not installed: no reference row (apt-get install sqlite3)")
        }

        // 2. himmes import, then the same file again.
        // The machine's disk writeback makes single runs vary by a few tenths: take the median of three.
        var runs: [Measured] = []
        var db = ""
        for _ in 0..<3 {
            db = databases.fresh("import")
            runs.append(try Measured.run(himmes, ["import", csv, "--db", db, "--quiet", "--json", "--no-diagnose"]))
        }
        let first = runs.sorted { $0.seconds < $1.seconds }[1]
        let firstReport = try JSONDecoder().decode(IngestReport.self, from: Data(first.output.utf8))
        let spread = runs.map { String(format: "%.2f", $0.seconds) }.joined(separator: ", ")
        table.append(("himmes import (median of 3)", first.seconds, rows, "inserted \(firstReport.inserted.grouped); runs \(spread) s"))
        let second = try Measured.run(himmes, ["import", csv, "--db", db, "--quiet", "--json", "--no-diagnose"])
        let secondReport = try JSONDecoder().decode(IngestReport.self, from: Data(second.output.utf8))
        table.append(("himmes import, same file again", second.seconds, rows, "inserted \(secondReport.inserted.grouped)"))

        // The engine's pass over what was loaded, timed on its own.
        let diagnosed = try Measured.run(himmes, ["diagnose", "--db", db])
        table.append(("himmes diagnose (the loaded data)", diagnosed.seconds, rows, diagnosed.output.trimmingCharacters(in: .whitespacesAndNewlines)))

        // The whole import (load and engine) against the load alone, for collected_at as the generator
        // writes it (each sample's instant) and as the original system's data has it: whole seconds
        // (a MySQL DATETIME export) and the uploader's wall clock. Medians of three.
        for shape in CollectedShape.allCases {
            let shaped = shape == .exact ? csv : "\(folder)/plant-\(shape.fileSuffix).csv"
            if shape != .exact { try shape.rewrite(csv, to: shaped) }
            var loads: [Measured] = []
            var wholes: [Measured] = []
            for _ in 0..<3 {
                loads.append(try Measured.run(himmes, ["import", shaped, "--db", databases.fresh("load_\(shape.fileSuffix)"), "--quiet", "--no-diagnose"]))
                wholes.append(try Measured.run(himmes, ["import", shaped, "--db", databases.fresh("whole_\(shape.fileSuffix)"), "--quiet"]))
            }
            guard (loads + wholes).allSatisfy({ $0.status == 0 }) else { throw ValidationError("import of \(shaped) failed") }
            let load = loads.sorted { $0.seconds < $1.seconds }[1]
            let whole = wholes.sorted { $0.seconds < $1.seconds }[1]
            let diagnosed = whole.output.split(separator: "\n").last { $0.hasPrefix("diagnosed") }.map(String.init) ?? "no diagnosis line"
            table.append(("import, \(shape.rawValue): load only", load.seconds, rows, "runs " + loads.map { String(format: "%.2f", $0.seconds) }.joined(separator: ", ") + " s"))
            table.append(
                ("import, \(shape.rawValue): load and engine", whole.seconds, rows,
                 String(format: "%.2f x the load; runs ", whole.seconds / load.seconds) + wholes.map { String(format: "%.2f", $0.seconds) }.joined(separator: ", ")
                    + " s; " + diagnosed))
            if shape != .exact { try? fm.removeItem(atPath: shaped) }
        }

        // 3. Over HTTP, to a server in its own process.
        let serverDB = databases.fresh("http")
        let server = try ServerProcess(executable: himmes, database: serverDB, port: port)
        defer { server.stop() }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await server.waitUntilReady(client: client)
            let (csvSeconds, csvInserted) = try await uploadCSV(client: client, path: csv)
            table.append(("HTTP POST text/csv, one request", csvSeconds, rows, "inserted \(csvInserted.grouped)"))
            server.stop()
            let bodies = try jsonBatches(csv: csv)
            // The engine diagnoses in the background as batches arrive and shares the two cores with
            // the server and this client: measured with it on, and off (load only).
            for (offset, engine) in [(1, true), (2, false)] {
                let jsonServer = try ServerProcess(
                    executable: himmes, database: databases.fresh("json\(offset)"), port: port + offset,
                    extra: engine ? [] : ["--no-auto-diagnose"])
                defer { jsonServer.stop() }
                try await jsonServer.waitUntilReady(client: client)
                let (jsonSeconds, jsonInserted) = try await uploadJSON(client: client, bodies: bodies, port: port + offset)
                table.append(
                    ("HTTP POST JSON, \(batch)-row batches" + (engine ? "" : ", engine off"), jsonSeconds, rows,
                     "inserted \(jsonInserted.grouped), \(bodies.count) requests"))
                jsonServer.stop()
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()

        print("step".padding(toLength: 47, withPad: " ", startingAt: 0) + "seconds      rows/s   x reference  notes")
        for (name, seconds, count, notes) in table {
            let s = seconds.map { String(format: "%7.2f", $0) } ?? "      -"
            let rate = seconds.map { Int(Double(count) / $0).grouped } ?? "-"
            let ratio = seconds.flatMap { s in reference.map { String(format: "%.2f", s / $0) } } ?? "-"
            print(name.padding(toLength: 46, withPad: " ", startingAt: 0) + " " + s + "  " + rate.leftPadded(11) + "   " + ratio.leftPadded(10) + "  " + notes)
        }
        print("\npeak resident memory of himmes import: \(runs.map(\.peakMemoryBytes).max()! / 1_000_000) MB (fresh database), \(second.peakMemoryBytes / 1_000_000) MB (same file again)")
        if firstReport.inserted != rows || secondReport.inserted != 0 {
            throw ValidationError("unexpected counts: first import inserted \(firstReport.inserted), second \(secondReport.inserted)")
        }
    }

    func uploadCSV(client: HTTPClient, path: String) async throws -> (Double, Int) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/vibration-data/bulk")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/csv")
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        request.body = .stream(FileBytes(handle: handle), length: .known(size))
        sync()
        let started = Date()
        let response = try await client.execute(request, timeout: .minutes(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let seconds = Date().timeIntervalSince(started)
        let report = try JSONDecoder().decode(IngestReport.self, from: Data(buffer: body))
        return (seconds, report.inserted)
    }

    /// The file's rows as JSON arrays of `batch` objects, built before the clock starts.
    func jsonBatches(csv: String) throws -> [ByteBuffer] {
        let text = try String(contentsOfFile: csv, encoding: .utf8)
        var bodies: [ByteBuffer] = []
        var current: [String] = []
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count == 8 else { continue }
            current.append(
                "{\"machine_name\":\"\(f[0])\",\"sensor_no\":\"\(f[1])\",\"collected_at\":\"\(f[2])\",\"measured_time\":\(f[3]),\"normal\":\(f[4]),\"unbalance\":\(f[5]),\"looseness\":\(f[6]),\"unbalance_looseness\":\(f[7])}")
            if current.count == batch {
                bodies.append(ByteBuffer(string: "[" + current.joined(separator: ",") + "]"))
                current.removeAll(keepingCapacity: true)
            }
        }
        if !current.isEmpty { bodies.append(ByteBuffer(string: "[" + current.joined(separator: ",") + "]")) }
        return bodies
    }

    /// Sends the batches one after another, as the original clients did.
    func uploadJSON(client: HTTPClient, bodies: [ByteBuffer], port: Int) async throws -> (Double, Int) {
        sync()
        let started = Date()
        var inserted = 0
        for body in bodies {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/vibration-data/bulk")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
            let response = try await client.execute(request, timeout: .seconds(60))
            let data = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else { throw ValidationError("JSON upload answered \(response.status)") }
            inserted += try JSONDecoder().decode(IngestReport.self, from: Data(buffer: data)).inserted
        }
        return (Date().timeIntervalSince(started), inserted)
    }
}

/// Fresh databases for the benchmark's steps: SQLite files in a folder, or schemas of a PostgreSQL
/// database (dropped at the end).
final class BenchDatabases {
    let postgres: PostgresLocation?
    let folder: String
    private(set) var schemas: [String] = []

    init(postgresURL: String?, folder: String) throws {
        postgres = try postgresURL.map(PostgresLocation.init(url:))
        self.folder = folder
    }

    func newSchema(_ name: String) -> String {
        let schema = "bench_\(name)_\(UUID().uuidString.prefix(8).lowercased())"
        schemas.append(schema)
        return schema
    }

    /// A `--db` value naming a new, empty database.
    func fresh(_ name: String) -> String {
        guard var location = postgres else {
            let path = "\(folder)/\(name).sqlite"
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            return path
        }
        location.schema = newSchema(name)
        settle()
        return location.url
    }

    /// Asks PostgreSQL to write out what the steps before left in its buffers, so that their
    /// writeback does not land in the next step's time (a checkpoint needs a superuser or the
    /// pg_checkpoint role; without, steps start as they find the server).
    func settle() {
        guard let postgres, let psql = Measured.which("psql") else { return }
        _ = try? Measured.run(psql, [postgres.psqlURL, "-q", "-c", "CHECKPOINT"])
    }

    func dropAll() {
        guard let postgres, !schemas.isEmpty, let psql = Measured.which("psql") else { return }
        _ = try? Measured.run(psql, [postgres.psqlURL, "-q", "-c", "SET client_min_messages = warning;" + schemas.map { "DROP SCHEMA IF EXISTS \($0) CASCADE;" }.joined()])
    }
}

extension PostgresLocation {
    /// The URL as psql takes it (without the schema parameter, which is this program's own).
    var psqlURL: String {
        var plain = self
        plain.schema = nil
        return plain.url
    }
}

/// A file's bytes for a streamed request body.
struct FileBytes: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let handle: FileHandle

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle
        mutating func next() async throws -> ByteBuffer? {
            guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else { return nil }
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: handle) }
}

/// `himmes serve` in its own process, for measurements over real sockets.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int

    init(executable: String, database: String, port: Int, extra: [String] = []) throws {
        self.port = port
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--db", database, "--port", "\(port)", "--log-level", "error"] + extra
        try process.run()
    }

    /// Waits for the server's health answer; throws when it exits first (its port taken, say), so
    /// that another process answering on the port is never measured in its place.
    func waitUntilReady(client: HTTPClient) async throws {
        for _ in 0..<200 {
            guard process.isRunning else {
                throw ValidationError("the server for port \(port) exited before answering (is another process listening there?)")
            }
            let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/health")
            if let response = try? await client.execute(request, timeout: .seconds(1)), response.status == .ok {
                try await Task.sleep(for: .milliseconds(50))
                guard process.isRunning else {
                    throw ValidationError("the server for port \(port) exited; another process answers there")
                }
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("the server on port \(port) did not start")
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

struct BenchDiagnose: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Accuracy and speed of the fault classifier on labelled windows from two independent sources.",
        discussion: """
            Draws machines from seeds the shape model was not fitted on (it was fitted on 0-7999): from the \
            additive generator and from the physical rotor model, shaft 10-60 Hz, sample rate 1-25.6 kHz, \
            sensor gain 0.5-2, noise up to 0.03 g. Prints, per source, the confusion matrix with the shaft \
            speed configured and estimated, recall by gain band and by rate band, the share of windows whose \
            type is unchanged when the whole window is scaled by 0.5 to 2, the shaft-speed estimator's \
            error, and the recall with recording artefacts (glitches, a knock, quantization, clipping, mains hum, \
            a drifting speed) applied to every window; then times classification of windows of 4,096 samples on one core.
            """)

    @Option(help: "Machines per source (four windows each).") var cases = 400
    @Option(help: "First seed (the model was fitted on 0-7999; the tests use 50,000 and up).") var seed: UInt64 = 100_000
    @Option(help: "Write every window's shape features as CSV here instead (for scripts/fit-shape-model.py).")
    var featuresOut: String?

    func run() throws {
        let seeds = seed..<(seed + UInt64(cases))
        if let featuresOut {
            var rows = DiagnosisBenchmark.featureRows(.additive, seeds: seeds)
            rows += DiagnosisBenchmark.featureRows(.physical, seeds: seeds).dropFirst()
            rows += DiagnosisBenchmark.textbookRows(seeds: seeds)
            try (rows.joined(separator: "\n") + "\n").write(toFile: featuresOut, atomically: true, encoding: .utf8)
            print("wrote \(rows.count - 1) windows' features to \(featuresOut)")
            return
        }
        func recalls(_ m: DiagnosisBenchmark.ConfusionMatrix) -> String {
            FaultType.allCases.map { String(format: "%10.1f%%", m.recall($0) * 100) }.joined()
        }
        for source in DiagnosisBenchmark.Source.allCases {
            let report = DiagnosisBenchmark.evaluate(source, seeds: seeds, artefacts: DiagnosisBenchmark.Artefact.allCases)
            print("== \(source.rawValue) source, \(cases) machines, seeds \(seeds.lowerBound)-\(seeds.upperBound - 1)\n")
            print("shaft speed configured:\n\(report.known)\n")
            print("shaft speed estimated from the spectrum:\n\(report.estimated)\n")
            print("recall, shaft speed estimated".padding(toLength: 30, withPad: " ", startingAt: 0) + DiagnosisBenchmark.ConfusionMatrix.names.map { $0.leftPadded(11) }.joined())
            for (band, matrix) in report.byGain + report.byRate {
                print(band.padding(toLength: 30, withPad: " ", startingAt: 0) + recalls(matrix) + "   (\(matrix.total / 4) machines)")
            }
            print(
                String(
                    format: "\ntype unchanged when the window is scaled by 0.5, 0.71, 1.41 and 2: %d of %d windows (%.1f%%)",
                    report.unchangedUnderScaling, report.windows, Double(report.unchangedUnderScaling) / Double(max(report.windows, 1)) * 100))
            print(
                String(
                    format: "shaft speed estimated within 2%% of the truth: %.1f%% of windows; error median %.2f%%, 90th percentile %.1f%%\n",
                    report.shaftWithin(0.02) * 100, report.shaftErrorQuantile(0.5) * 100, report.shaftErrorQuantile(0.9) * 100))
            print("called saturated: \(report.saturated) of \(report.windows) windows as they are\n")
            print(
                "recall with a recording artefact".padding(toLength: 46, withPad: " ", startingAt: 0)
                    + DiagnosisBenchmark.ConfusionMatrix.names.map { $0.leftPadded(11) }.joined() + "  called saturated")
            for (artefact, matrix, saturated) in report.withArtefact {
                print(
                    artefact.rawValue.padding(toLength: 46, withPad: " ", startingAt: 0) + recalls(matrix)
                        + String(format: "%17.1f%%", Double(saturated) / Double(max(matrix.total, 1)) * 100))
            }
            print()
        }
        let classifier = FaultClassifier()
        let channel = PlantGenerator.Channel(shaftHz: 29.5, seed: 1, sampleRateHz: 4096)
        let w = PlantGenerator.window(of: channel, count: 4096, sampleRateHz: 4096)
        let windows = [w.normal, w.unbalance, w.looseness, w.both].map { Waveform(samples: $0, sampleRateHz: 4096) }
        let profile = MachineProfile(rpm: 29.5 * 60)
        var count = 0
        var faults = 0
        let started = Date()
        while Date().timeIntervalSince(started) < 2 {
            for window in windows {
                faults += classifier.diagnose(window, profile: profile).faultType.rawValue
                count += 1
            }
        }
        let elapsed = Date().timeIntervalSince(started)
        print(String(format: "speed: %@ windows of 4,096 samples per second on one core (%.1f µs each)", Int(Double(count) / elapsed).grouped, elapsed / Double(count) * 1e6))
        if faults < 0 { print(faults) }
    }
}

/// collected_at as senders other than himmes put it, for `bench ingest`.
enum CollectedShape: String, CaseIterable {
    case exact = "exact instants"
    case wholeSeconds = "whole seconds"
    case wallClock = "upload wall clock"

    var fileSuffix: String {
        switch self {
        case .exact: "exact"
        case .wholeSeconds: "seconds"
        case .wallClock: "wallclock"
        }
    }

    /// Copies the generated file with its collected_at column rewritten: cut to the whole second, or
    /// replaced by an uploader's clock (a few microseconds a row, 20 ms between 200-row requests,
    /// without an offset as Python's isoformat writes it).
    func rewrite(_ source: String, to target: String) throws {
        guard let input = FileHandle(forReadingAtPath: source) else { throw ValidationError("cannot read \(source)") }
        defer { try? input.close() }
        guard FileManager.default.createFile(atPath: target, contents: nil) else { throw ValidationError("cannot write \(target)") }
        guard let output = FileHandle(forWritingAtPath: target) else { throw ValidationError("cannot write \(target)") }
        defer { try? output.close() }
        var pending: [UInt8] = []
        var out: [UInt8] = []
        var row = -1
        let clockStart = Timestamp(microseconds: 1_767_225_600_000_000)
        func rewriteLine(_ line: ArraySlice<UInt8>) {
            defer { row += 1 }
            guard row >= 0 else {
                out += line
                return
            }
            // machine_name,sensor_no,collected_at,…: the third field.
            var commas: [Int] = []
            for i in line.indices where line[i] == UInt8(ascii: ",") {
                commas.append(i)
                if commas.count == 3 { break }
            }
            guard commas.count == 3 else {
                out += line
                return
            }
            out += line[line.startIndex...commas[1]]
            let field = line[(commas[1] + 1)..<commas[2]]
            switch self {
            case .exact:
                out += field
            case .wholeSeconds:
                out += field.prefix { $0 != UInt8(ascii: ".") }
            case .wallClock:
                let at = clockStart.adding(seconds: Double(row) * 0.000_003 + Double(row / 200) * 0.02)
                out += Array(at.rfc3339.utf8.dropLast())
            }
            out += line[commas[2]...]
        }
        while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty {
            pending += chunk
            var lineStart = 0
            for i in pending.indices where pending[i] == UInt8(ascii: "\n") {
                rewriteLine(pending[lineStart...i])
                lineStart = i + 1
            }
            pending.removeFirst(lineStart)
            try output.write(contentsOf: out)
            out.removeAll(keepingCapacity: true)
        }
        if !pending.isEmpty { rewriteLine(pending[...]) }
        try output.write(contentsOf: out)
    }
}
