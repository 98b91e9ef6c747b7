import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import VibrationCore

struct BenchHTTP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "Load the API over loopback with wrk: reads alone, then reads during bulk uploads.",
        discussion: """
            Loads --rows generated samples and --diagnoses diagnoses over --machines machines, starts \
            `himmes serve` on the database in its own process (the engine on, as by default), and runs \
            wrk (apt-get install wrk) with --connections connections for --duration seconds on \
            GET /vibration-diagnosis/latest, then on GET /vibration-data?limit=100, then on the latest \
            diagnoses again while --uploaders gateways post CSV uploads of --upload-rows new rows \
            back to back. Prints requests/s, p50 and p99 for each, the uploads' own figures, and checks \
            that no request failed and that the server stored exactly the rows uploaded. Build with \
            -c release for figures worth quoting; wrk and the server share this machine's cores.
            """)

    @Option(help: "Samples to load first.") var rows = 200_000
    @OptionGroup var plantOptions: BenchPlant.Options
    @Option(help: "wrk connections.") var connections = 64
    @Option(help: "wrk threads.") var threads = 2
    @Option(help: "Seconds per measurement.") var duration = 10
    @Option(help: "Gateways uploading during the mixed run.") var uploaders = 4
    @Option(help: "Rows per upload in the mixed run.") var uploadRows = 1_000
    @Option(help: "Folder for the database (default: a new temporary folder, removed after).") var dir: String?
    @Option(help: "Port for the server under test.") var port = 18_190
    @Flag(help: "Run the server without the built-in engine.") var noAutoDiagnose = false

    /// What wrk printed, read back.
    struct WrkResult {
        var requestsPerSecond = 0.0
        var p50 = "-"
        var p99 = "-"
        var requests = 0
        var failures = 0

        init(output: String) {
            for line in output.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if line.hasPrefix("Requests/sec:"), let value = fields.last.flatMap({ Double($0) }) { requestsPerSecond = value }
                if line.hasPrefix("50%"), let value = fields.last { p50 = String(value) }
                if line.hasPrefix("99%"), let value = fields.last { p99 = String(value) }
                if line.contains("requests in"), let value = fields.first.flatMap({ Int($0) }) { requests = value }
                if line.hasPrefix("Non-2xx or 3xx responses:"), let value = fields.last.flatMap({ Int($0) }) { failures += value }
                if line.hasPrefix("Socket errors:") {
                    // "Socket errors: connect 0, read 0, write 0, timeout 0"
                    failures += fields.compactMap { Int($0.trimmingCharacters(in: CharacterSet(charactersIn: ","))) }.reduce(0, +)
                }
            }
        }
    }

    static func wrkPath() -> String? { Measured.which("wrk") }

    func wrk(_ url: String) throws -> (WrkResult, String) {
        guard let wrk = Self.wrkPath() else { throw ValidationError("wrk is not installed: apt-get install wrk") }
        let result = try Measured.run(wrk, ["-t\(threads)", "-c\(connections)", "-d\(duration)s", "--latency", url])
        guard result.status == 0 else { throw ValidationError("wrk failed with status \(result.status)") }
        return (WrkResult(output: result.output), result.output)
    }

    func run() async throws {
        guard Self.wrkPath() != nil else { throw ValidationError("wrk is not installed: apt-get install wrk") }
        let plant = try await BenchPlant.load(rows: rows, options: plantOptions, dir: dir)
        defer { plant.remove() }
        let (himmes, database) = (Measured.himmes, plant.database)

        let server = try ServerProcess(executable: himmes, database: database, port: port, extra: noAutoDiagnose ? ["--no-auto-diagnose"] : [])
        defer { server.stop() }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        try await server.waitUntilReady(client: client)
        let base = "http://127.0.0.1:\(port)"
        let storedBefore = try await storedSamples(base, client: client)

        print("\nwrk -t\(threads) -c\(connections) -d\(duration)s, server and wrk on the same machine, engine \(noAutoDiagnose ? "off" : "on")\n")
        print("load".padding(toLength: 58, withPad: " ", startingAt: 0) + "      req/s    p50       p99      requests  failed")
        func show(_ name: String, _ r: WrkResult) {
            print(
                name.padding(toLength: 58, withPad: " ", startingAt: 0) + String(format: "%10.0f", r.requestsPerSecond) + "  "
                    + r.p50.leftPadded(8) + "  " + r.p99.leftPadded(8) + "  " + r.requests.grouped.leftPadded(10) + "  "
                    + String(r.failures).leftPadded(6))
        }
        var failed = 0
        for (name, path) in [
            ("GET /vibration-diagnosis/latest", "/vibration-diagnosis/latest"),
            ("GET /vibration-data?limit=100", "/vibration-data?limit=100"),
        ] {
            let (result, _) = try wrk(base + path)
            show(name, result)
            failed += result.failures
        }

        // Mixed: gateways upload new rows back to back while wrk reads.
        let uploads = Uploads()
        let stop = Latch()
        let gateways = Task {
            await withTaskGroup(of: Void.self) { group in
                for gateway in 0..<uploaders {
                    group.addTask {
                        var sequence = 0
                        while !stop.isSet {
                            let body = Self.csv(gateway: gateway, sequence: sequence, rows: uploadRows)
                            sequence += 1
                            var request = HTTPClientRequest(url: base + "/vibration-data/bulk")
                            request.method = .POST
                            request.headers.add(name: "Content-Type", value: "text/csv")
                            request.body = .bytes(ByteBuffer(string: body))
                            let started = ContinuousClock.now
                            let inserted: Int? = await {
                                guard let response = try? await client.execute(request, timeout: .seconds(60)),
                                    let data = try? await response.body.collect(upTo: 1 << 20), response.status == .ok,
                                    let report = try? JSONDecoder().decode(IngestReport.self, from: Data(buffer: data))
                                else { return nil }
                                return report.inserted
                            }()
                            uploads.record(inserted: inserted, rows: uploadRows, seconds: (ContinuousClock.now - started).inSeconds)
                        }
                    }
                }
            }
        }
        let (mixed, _) = try wrk(base + "/vibration-diagnosis/latest")
        stop.set()
        await gateways.value
        show("GET /vibration-diagnosis/latest during \(uploaders) bulk uploaders", mixed)
        failed += mixed.failures
        let u = uploads.state.withLock { $0 }
        let latencies = u.seconds.sorted()
        func at(_ q: Double) -> String {
            latencies.quantile(q).map { String(format: "%.1fms", $0 * 1000) } ?? "-"
        }
        let uploadRate = Double(u.inserted) / Double(duration)
        print(
            "POST /vibration-data/bulk (\(uploadRows.grouped)-row CSV)".padding(toLength: 58, withPad: " ", startingAt: 0)
                + String(format: "%10.1f", Double(u.requests) / Double(duration)) + "  " + at(0.5).leftPadded(8) + "  "
                + at(0.99).leftPadded(8) + "  " + u.requests.grouped.leftPadded(10) + "  " + String(u.failed).leftPadded(6))
        print("  uploads stored \(u.inserted.grouped) new rows (\(Int(uploadRate).grouped) rows/s) during the reads")
        failed += u.failed

        // Row counts must match: everything the uploads reported stored, and nothing else.
        let storedAfter = try await storedSamples(base, client: client)
        let expected = storedBefore + u.rows
        print("  samples stored: \(storedBefore.grouped) before + \(u.rows.grouped) uploaded = \(expected.grouped); the server counts \(storedAfter.grouped)")
        if storedAfter != expected || u.inserted != u.rows {
            throw ValidationError("row counts do not match: the server holds \(storedAfter), expected \(expected) (reports said \(u.inserted) new)")
        }
        if failed > 0 { throw ValidationError("\(failed) requests failed") }
        print("  no failed request, no lost or duplicated row")
    }

    /// Rows of gateway `gateway`'s upload `sequence`: the next rows of its sensor's recording at
    /// 4 kHz, each stamped with its own time, a 25 Hz vibration the engine diagnoses as it completes windows.
    static func csv(gateway: Int, sequence: Int, rows: Int) -> String {
        var text = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"
        text.reserveCapacity(rows * 96)
        let start = Timestamp(microseconds: 1_748_736_000_000_000)  // 2025-06-01T00:00:00Z
        let first = sequence * rows
        for i in first..<(first + rows) {
            let t = Double(i) / 4000
            let g = 0.2 * sin(2 * .pi * 25 * t)
            text += "bench-gateway-\(gateway),s1,\(start.adding(seconds: t).rfc3339),\(t),\(g),\(g),\(g),\(g)\n"
        }
        return text
    }

    func storedSamples(_ base: String, client: HTTPClient) async throws -> Int {
        let response = try await client.execute(HTTPClientRequest(url: base + "/machines"), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        let items = (try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any])?["items"] as? [[String: Any]] ?? []
        return items.compactMap { $0["sample_count"] as? Int }.reduce(0, +)
    }

    final class Uploads: Sendable {
        struct State {
            var requests = 0
            var failed = 0
            var rows = 0
            var inserted = 0
            var seconds: [Double] = []
        }
        let state = Mutex(State())

        func record(inserted: Int?, rows: Int, seconds: Double) {
            state.withLock {
                $0.requests += 1
                $0.seconds.append(seconds)
                if let inserted {
                    $0.rows += rows
                    $0.inserted += inserted
                } else {
                    $0.failed += 1
                }
            }
        }
    }
}
