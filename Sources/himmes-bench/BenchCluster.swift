import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import VibrationCore
import VibrationStore

struct BenchCluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Ingest through 1, 2, 3 ... `himmes serve` processes sharing one PostgreSQL database.",
        discussion: """
            For each server count, a fresh schema of --db, that many servers (the engine on, as by \
            default), and --uploaders gateways posting one machine-second of CSV per request (--machines \
            machines x --seconds seconds at --rate Hz, one sensor each), the requests spread over the \
            servers in turn. Prints the rows per second stored, request latencies, and how long after \
            the last upload the engines had diagnosed every window (they share the machines). The \
            servers, the gateways and PostgreSQL share this machine's cores: on one machine more \
            servers add coordination, not cores. Build with -c release for figures worth quoting.
            """)

    @Option(help: "PostgreSQL database (postgres://…): each run gets a schema of its own, dropped after.") var db: String
    @Option(help: "Server counts to measure, comma-separated.") var servers = "1,2,3"
    @Option(help: "Machines (one sensor each).") var machines = 24
    @Option(help: "Seconds of data per machine.") var seconds = 20
    @Option(help: "Samples per second per machine.") var rate = 2_000
    @Option(help: "Gateways uploading at once.") var uploaders = 8
    @Option(help: "First port; servers listen on the ports after it.") var port = 18_300

    func run() async throws {
        let counts = servers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--servers must list counts of 1 or more") }
        let databases = try BenchDatabases(postgresURL: db, folder: FileManager.default.temporaryDirectory.path)
        defer { databases.dropAll() }
        guard let psql = Measured.which("psql") else { throw ValidationError("psql is needed to count what the servers stored") }
        let bodies = makeBodies()
        let totalRows = machines * seconds * rate
        print("\(machines) machines x \(seconds) s at \(rate) Hz: \(totalRows.grouped) rows in \(bodies.count) uploads, \(uploaders) gateways")
        print("servers  stored rows/s  upload p50  upload p99  engine done after last upload  verdicts")
        for serverCount in counts {
            let database = databases.fresh("cluster\(serverCount)")
            let schema = try PostgresLocation(url: database).schema ?? "public"
            // Migrated once before the servers start, so that they do not queue on the migration lock.
            guard try Measured.run(Measured.himmes, ["migrate", "--db", database]).status == 0 else {
                throw ValidationError("migrating \(database) failed")
            }
            let processes = try (0..<serverCount).map { try ServerProcess(executable: Measured.himmes, database: database, port: port + $0) }
            defer { processes.forEach { $0.stop() } }
            for process in processes { try await process.waitUntilReady(client: HTTPClient.shared) }
            let uploads = Uploads()
            let started = ContinuousClock.now
            try await withThrowingTaskGroup { group in
                for _ in 0..<uploaders {
                    group.addTask {
                        while true {
                            let i = uploads.next.add(1, ordering: .relaxed).oldValue
                            guard i < bodies.count else { return }
                            var request = HTTPClientRequest(url: "http://127.0.0.1:\(processes[i % serverCount].port)/vibration-data/bulk")
                            request.method = .POST
                            request.headers.add(name: "Content-Type", value: "text/csv")
                            request.body = .bytes(bodies[i])
                            let sent = ContinuousClock.now
                            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
                            _ = try await response.body.collect(upTo: 1 << 20)
                            guard response.status == .ok else { throw ValidationError("an upload answered \(response.status)") }
                            let seconds = (ContinuousClock.now - sent).inSeconds
                            uploads.latencies.withLock { $0.append(seconds) }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let uploaded = ContinuousClock.now
            let elapsed = (uploaded - started).inSeconds
            func rows(in table: String) throws -> Int {
                let location = try PostgresLocation(url: database)
                let run = try Measured.run(psql, [location.psqlURL, "-Atqc", "SELECT count(*) FROM \(schema).\(table)"])
                return Int(run.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            }
            let stored = try rows(in: "vibration_data")
            guard stored == totalRows else { throw ValidationError("\(serverCount) servers stored \(stored.grouped) rows of \(totalRows.grouped)") }
            let windows = machines * seconds
            var verdicts = try rows(in: "vibration_diagnosis")
            while verdicts < windows, ContinuousClock.now - uploaded < .seconds(300) {
                try await Task.sleep(for: .milliseconds(200))
                verdicts = try rows(in: "vibration_diagnosis")
            }
            let engine = (ContinuousClock.now - uploaded).inSeconds
            let sorted = uploads.latencies.withLock { $0 }.sorted()
            print(
                String(format: "%7d  %13@  %8.0f ms  %8.0f ms  %27.1f s  %@ of %@", serverCount, Int(Double(totalRows) / elapsed).grouped,
                    (sorted.quantile(0.5) ?? 0) * 1000, (sorted.quantile(0.99) ?? 0) * 1000, engine, verdicts.grouped, windows.grouped))
        }
    }

    /// One CSV body per machine-second, as a gateway sends them: a 25 Hz shaft with a little of
    /// its harmonics and noise, in the `normal` column the engine watches.
    func makeBodies() -> [ByteBuffer] {
        var bodies: [ByteBuffer] = []
        var random = SplitMix64(seed: 11)
        let start = Timestamp(microseconds: 1_767_225_600_000_000)
        for second in 0..<seconds {
            for machine in 0..<machines {
                var writer = SampleCSVWriter(precision: .fixed6)
                var out = Array(SampleCSVWriter.header.utf8)
                let names = writer.names(machineName: String(format: "cluster-%03d", machine), sensorNo: "sensor1")
                for i in 0..<rate {
                    let t = Double(second) + Double(i) / Double(rate)
                    let value = 0.1 * sin(2 * .pi * 25 * t) + 0.02 * sin(2 * .pi * 50 * t) + random.uniform(-0.01...0.01)
                    writer.append(
                        names: names, collectedAt: start.adding(seconds: t), measuredTime: (t * 1_000_000).rounded() / 1_000_000,
                        value, value, value, value, to: &out)
                }
                bodies.append(ByteBuffer(bytes: out))
            }
        }
        return bodies
    }
}

/// The uploads of one run: which is next, and how long each took (seconds).
final class Uploads: Sendable {
    let next = Atomic<Int>(0)
    let latencies = Mutex<[Double]>([])
}
