import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import VibrationCore
import VibrationStore

struct BenchDashboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Time the dashboard's pages and chart data on a loaded plant.",
        discussion: """
            Loads --rows generated samples (and lets the engine diagnose them), adds diagnoses up to \
            --diagnoses across --machines machines, starts `himmes serve` on the database in its own \
            process, then requests each page and each kind of chart data in turn over loopback and \
            prints p50, p99 and the slowest, in milliseconds. The times include the HTTP round trip, so \
            they bound the server time from above. Build with -c release for figures worth quoting.
            """)

    @Option(help: "Samples to load.") var rows = 1_500_000
    @OptionGroup var plantOptions: BenchPlant.Options
    @Option(help: "Requests per measured row.") var requests = 200
    @Option(help: "Folder for the databases (default: a new temporary folder, removed after).") var dir: String?
    @Option(help: "Port for the server under test.") var port = 18_189

    func run() async throws {
        let plant = try await BenchPlant.load(rows: rows, options: plantOptions, dir: dir)
        defer { plant.remove() }
        let (himmes, database, plan) = (Measured.himmes, plant.database, plant.plan)

        // The latest diagnosis per machine as the store answers it, without the server's cache of
        // the encoded answer in front.
        do {
            let store = try await StoreLocation.open(database, logger: Logger(label: "bench"))
            store.start()
            defer { store.close() }
            var times: [Double] = []
            for _ in 0..<(requests + 5) {
                let started = ContinuousClock.now
                let latest = try await store.latestDiagnoses(machineName: nil)
                let elapsed = ContinuousClock.now - started
                precondition(latest.count == plan.machines)
                times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
            }
            times = times.dropFirst(5).sorted()
            print(String(format: "\nlatest diagnosis of %d machines, read from the store (no cache): p50 %.3f ms, p99 %.3f ms",
                plan.machines, times.quantile(0.5) ?? 0, times.quantile(0.99) ?? 0))
        }

        let server = try ServerProcess(executable: himmes, database: database, port: port, extra: ["--no-auto-diagnose"])
        defer { server.stop() }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        try await server.waitUntilReady(client: client)
        let base = "http://127.0.0.1:\(port)"

        var rng = SplitMix64(seed: 5)
        let span = plan.last.microseconds - plan.first.microseconds
        func time(_ offset: Int64) -> String { Timestamp(microseconds: plan.first.microseconds + offset).rfc3339 }
        func randomRange(fraction: Double) -> (String, String) {
            let width = Int64(Double(span) * fraction)
            let start = Int64(rng.uniform(0...Double(max(span - width, 1))))
            return (time(start), time(start + width))
        }
        let machine = plan.sampleMachine
        let sensor = plan.sampleSensor
        // Spectra of windows where the sensor has data: the first sample after random moments.
        var windows: [String] = []
        while windows.count < 50 {
            let (from, _) = randomRange(fraction: 0)
            let request = HTTPClientRequest(url: base + "/vibration-data?machine_name=\(machine)&sensor_no=\(sensor)&limit=1&from=\(from)")
            let body = try await client.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 20)
            let items = (try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any])?["items"] as? [[String: Any]]
            if let at = items?.first?["collected_at"] as? String { windows.append(at) }
        }
        var nextWindow = 0
        let pages: [(String, () -> String)] = [
            ("/ status board", { "/" }),
            ("/timeline (hour to the newest diagnosis)", { "/timeline" }),
            ("/timeline?span=7d", { "/timeline?span=7d" }),
            ("/data", { "/data" }),
            ("/data filtered by machine, sensor, range", {
                let (from, to) = randomRange(fraction: 0.1)
                return "/data?machine_name=\(machine)&sensor_no=\(sensor)&from=\(from)&to=\(to)"
            }),
            ("/diagnosis", { "/diagnosis" }),
            ("/diagnosis?fault_type=1&machine_name=...", { "/diagnosis?fault_type=1&machine_name=\(machine)" }),
            ("/machines/{name} page", { "/machines/\(machine)" }),
        ]
        let data: [(String, () -> String)] = [
            ("waveform, whole range", { "/machines/\(machine)/waveform?sensor_no=\(sensor)&from=\(time(0))&to=\(time(span))&points=2000" }),
            ("waveform, random 10% of the range", {
                let (from, to) = randomRange(fraction: 0.1)
                return "/machines/\(machine)/waveform?sensor_no=\(sensor)&from=\(from)&to=\(to)&points=2000"
            }),
            ("waveform, random 1% (zoomed in)", {
                let (from, to) = randomRange(fraction: 0.01)
                return "/machines/\(machine)/waveform?sensor_no=\(sensor)&from=\(from)&to=\(to)&points=2000"
            }),
            ("waveform, random 10 s (zoomed further)", {
                let (from, to) = randomRange(fraction: 10e6 / Double(span))
                return "/machines/\(machine)/waveform?sensor_no=\(sensor)&from=\(from)&to=\(to)&points=2000"
            }),
            ("spectrum of a random 1 s window", {
                nextWindow += 1
                return "/machines/\(machine)/spectrum?sensor_no=\(sensor)&at=\(windows[nextWindow % windows.count])&max_hz=600"
            }),
            ("feature trend (1000 windows)", { "/machines/\(machine)/features?limit=1000" }),
            ("GET /vibration-data?limit=100 (JSON)", { "/vibration-data?limit=100" }),
            ("GET /vibration-diagnosis/latest (JSON)", { "/vibration-diagnosis/latest" }),
        ]
        print("\n\(plan.description)\n")
        print("request".padding(toLength: 46, withPad: " ", startingAt: 0) + "   p50 ms   p99 ms   max ms  server p50   p99 ms   bytes")
        for (name, path) in pages + data {
            var times: [Double] = []
            var server: [Double] = []
            var bytes = 0
            for i in 0..<(requests + 5) {
                var request = HTTPClientRequest(url: base + path())
                request.headers.add(name: "Accept", value: name.hasPrefix("/") ? "text/html" : "application/json")
                let clock = ContinuousClock()
                let started = clock.now
                let response = try await client.execute(request, timeout: .seconds(30))
                let body = try await response.body.collect(upTo: 64 << 20)
                let took = (clock.now - started).inSeconds * 1000
                guard response.status == .ok else {
                    throw ValidationError("\(path()) answered \(response.status): \(String(buffer: body).prefix(300))")
                }
                if i >= 5 {
                    times.append(took)
                    bytes = body.readableBytes
                    // The server's own time, from its Server-Timing header (app;dur=milliseconds).
                    if let timing = response.headers.first(name: "Server-Timing"), let dur = timing.split(separator: "=").last {
                        server.append(Double(dur) ?? .nan)
                    }
                }
            }
            times.sort()
            server.sort()
            func at(_ values: [Double], _ q: Double) -> String {
                values.quantile(q).map { String(format: "%8.2f", $0) } ?? "       -"
            }
            print(
                name.padding(toLength: 46, withPad: " ", startingAt: 0) + at(times, 0.5) + " " + at(times, 0.99) + " "
                    + String(format: "%8.2f", times.last!) + "    " + at(server, 0.5) + " " + at(server, 0.99) + "   " + bytes.grouped)
        }
    }

    struct Plan: CustomStringConvertible {
        var first: Timestamp
        var last: Timestamp
        var sampleMachine: String
        var sampleSensor: String
        var diagnoses: Int
        var machines: Int
        var description: String {
            "\(diagnoses.grouped) diagnoses over \(machines) machines; samples from \(first.rfc3339) to \(last.rfc3339); charts of \(sampleMachine)/\(sampleSensor)"
        }
    }

    /// Registers the machines and tops the engine's diagnoses up to `diagnoses`, in runs of verdicts
    /// over the same period as the samples.
    static func seedDiagnoses(db: String, diagnoses: Int, machines: Int) async throws -> Plan {
        let store = try await StoreLocation.open(db, logger: Logger(label: "bench"))
        store.start()
        defer { store.close() }
        let summaries = try await store.machines()
        guard let sampled = summaries.first(where: { $0.sampleCount > 0 }), let first = sampled.firstCollectedAt,
            let last = summaries.compactMap(\.lastCollectedAt).max()
        else { throw ValidationError("no samples were loaded") }
        let existing = try await store.diagnoses(matching: DiagnosisFilter(), after: nil, limit: 10_000_000).count
        var names = summaries.map(\.machineName)
        var index = 1
        while names.count < machines {
            let name = String(format: "m%03d", index)
            if !names.contains(name) { names.append(name) }
            index += 1
        }
        for (i, name) in names.enumerated() {
            let status = try await store.machineStatus(named: name)
            var config = status?.config ?? MachineConfig(machineName: name)
            config.line = "Line \(["A", "B", "C"][i % 3])"
            _ = try await store.save(config)
        }
        var rng = SplitMix64(seed: 9)
        var rows: [Diagnosis] = []
        let count = max(0, diagnoses - existing)
        let step = max(1, (last.microseconds - first.microseconds) / Int64(max(1, count / names.count)))
        var current = [FaultType](repeating: .normal, count: names.count)
        for i in 0..<count {
            let m = i % names.count
            if rng.next() % 50 == 0 { current[m] = FaultType(rawValue: Int(rng.next() % 4))! }
            rows.append(
                Diagnosis(
                    machineName: names[m], detectedAt: Timestamp(microseconds: first.microseconds + Int64(i / names.count) * step),
                    faultType: current[m]))
        }
        for chunk in stride(from: 0, to: rows.count, by: 10_000) {
            _ = try await store.insert(Array(rows[chunk..<min(rows.count, chunk + 10_000)]))
        }
        return Plan(
            first: first, last: last, sampleMachine: sampled.machineName, sampleSensor: sampled.sensors.first ?? "sensor1",
            diagnoses: existing + count, machines: names.count)
    }
}

/// A plant loaded for a benchmark in a folder of its own: generated samples, imported and
/// diagnosed, and diagnoses topped up to the number asked for across the machines.
struct BenchPlant {
    let folder: String
    let database: String
    let databases: BenchDatabases
    let plan: BenchDashboard.Plan
    /// Whether the folder was given (and is kept) rather than made for the run.
    let kept: Bool

    /// What the plant holds besides its samples, and where it is kept: the same for every benchmark on a plant.
    struct Options: ParsableArguments {
        @Option(help: "Diagnoses in all.") var diagnoses = 100_000
        @Option(help: "Machines the diagnoses are spread over.") var machines = 50
        @Option(help: "A PostgreSQL server to load the plant into (postgres://…) instead of an SQLite file.") var db: String?
    }

    static func load(rows: Int, options: Options, dir: String?) async throws -> BenchPlant {
        let (diagnoses, machines, postgresURL) = (options.diagnoses, options.machines, options.db)
        let fm = FileManager.default
        let folder = dir ?? fm.temporaryDirectory.appendingPathComponent("himmes-bench-\(UUID().uuidString)").path
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let himmes = Measured.himmes
        let csv = "\(folder)/plant.csv"
        let databases = try BenchDatabases(postgresURL: postgresURL, folder: folder)
        let db = databases.fresh("plant")
        print("loading \(rows.grouped) samples and \(diagnoses.grouped) diagnoses over \(machines) machines...")
        guard try Measured.run(himmes, ["generate", "--rows", "\(rows)", "--out", csv]).status == 0,
            try Measured.run(himmes, ["import", csv, "--db", db, "--quiet", "--no-diagnose"]).status == 0,
            try Measured.run(himmes, ["diagnose", "--db", db]).status == 0
        else { throw ValidationError("loading the plant failed") }
        try? fm.removeItem(atPath: csv)
        let plan = try await BenchDashboard.seedDiagnoses(db: db, diagnoses: diagnoses, machines: machines)
        return BenchPlant(folder: folder, database: db, databases: databases, plan: plan, kept: dir != nil)
    }

    func remove() {
        databases.dropAll()
        if !kept { try? FileManager.default.removeItem(atPath: folder) }
    }
}
