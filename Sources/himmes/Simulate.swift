import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Synchronization
import VibrationCore
import VibrationServer

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Act as edge gateways: stream generated vibration data to a server's bulk API.",
        discussion: """
            Each machine is a gateway that sends one second of its sensors' samples every second (in \
            requests of at most --batch rows), following the demo's scenarios: some machines drift into \
            faults. Prints rows/s sent, accepted and rejected, and request latency percentiles every \
            second, and a summary at the end of --duration. With several --target servers (sharing one \
            database), the gateways take turns over them, and a request a server does not answer \
            (stopped, unreachable) is sent to the next one, as a load balancer would.
            """)

    @Option(help: "Base URL of the server; repeat for several servers.") var target: [String] = ["http://127.0.0.1:8080"]
    @Option(help: "Machines (gateways).") var machines = 10
    @Option(help: "Sensors per machine.") var sensors = 1
    @Option(help: "Samples per second per sensor.") var rate = 2_000
    @Option(help: "Rows per request at most (0: one request per machine per second).") var batch = 0
    @Option(help: "Seconds to run.") var duration = 60
    @Option(help: "API key, sent as 'Authorization: Bearer KEY'.") var apiKey: String?
    @Flag(help: "Also request the dashboard's pages and data while streaming, one every 250 ms, and print their times at the end.")
    var probeDashboard = false

    func validate() throws {
        guard machines >= 1, sensors >= 1, rate >= 10, duration >= 1, batch >= 0 else {
            throw ValidationError("machines, sensors and duration must be at least 1, rate at least 10, batch 0 or more")
        }
        for target in target where URL(string: target)?.scheme == nil {
            throw ValidationError("--target must be a URL like http://127.0.0.1:8080, not '\(target)'")
        }
    }

    final class Tally: Sendable {
        struct State {
            var sent = 0
            var accepted = 0
            var rejected = 0
            var failedRequests = 0
            /// Requests sent again after a 429.
            var retried = 0
            /// Requests sent to another server after one did not answer.
            var rerouted = 0
            var latencies: [Double] = []
        }
        let state = Mutex(State())
    }

    func run() async throws {
        let names = (1...machines).map { String(format: "sim-%03d", $0) }
        let stream = DemoStream(
            url: target[0], machines: names, sensors: sensors, rateHz: Double(rate), historySeconds: 0, apiKey: apiKey,
            logger: Logger(label: "simulate"))
        let start = Timestamp(microseconds: Timestamp.now.microseconds / 1_000_000 * 1_000_000)
        let tally = Tally()
        let total = Tally()
        let pages = PageTimes()
        let clock = ContinuousClock()
        let began = clock.now
        print("streaming \(machines) machines x \(sensors) sensors at \(rate) Hz (\((machines * sensors * rate).grouped) samples/s offered) to \(target.joined(separator: ", ")) for \(duration) s")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, name) in names.enumerated() {
                // Gateways are not synchronised: each sends at its own moment within the second.
                let phase = Duration.milliseconds(index * 1000 / names.count)
                group.addTask {
                    for second in 0..<duration {
                        try await clock.sleep(until: began + .seconds(second) + phase)
                        let csv = stream.csv(second: second, start: start, machine: name)
                        // One machine-second is sensors x rate rows: sent whole when it fits one request.
                        let bodies = batch == 0 || sensors * rate <= batch ? [(bytes: csv, rows: sensors * rate)] : split(csv)
                        for (i, body) in bodies.enumerated() {
                            await post(rows: body.rows, tallies: [tally, total], first: index + second + i) { stream.bulkRequest(body.bytes, to: $0) }
                        }
                    }
                }
            }
            if probeDashboard {
                group.addTask {
                    // From the third second, when the first windows have been diagnosed.
                    try await clock.sleep(until: began + .seconds(min(2, duration)))
                    var index = 0
                    while clock.now < began + .seconds(duration) {
                        let probes = dashboardProbes(machine: names[0], start: start, elapsed: (clock.now - began).inSeconds)
                        let (name, path) = probes[index % probes.count]
                        index += 1
                        await probe(name: name, path: path, into: pages)
                        // About four requests a second: a few dashboards open, each refreshing its live parts.
                        try await clock.sleep(for: .milliseconds(250))
                    }
                }
            }
            group.addTask {
                for second in 1...duration {
                    try await clock.sleep(until: began + .seconds(second - 1) + .milliseconds(950))
                    let s = tally.state.withLock { state -> Tally.State in
                        defer { state = Tally.State() }
                        return state
                    }
                    print(line(second: second, s, seconds: 1))
                }
            }
            try await group.waitForAll()
        }
        let s = total.state.withLock { $0 }
        print("\nsummary: " + line(second: duration, s, seconds: Double(duration)))
        if probeDashboard { pages.print() }
        if s.failedRequests > 0 || s.rejected > 0 { throw ExitCode(1) }
    }

    /// The CSV of one machine-second, cut into bodies of at most `batch` rows, each with the header.
    func split(_ csv: [UInt8]) -> [(bytes: [UInt8], rows: Int)] {
        // Line ends, the header's first: one pass over the bytes, no copy per line.
        var ends: [Int] = []
        for (i, byte) in csv.enumerated() where byte == 0x0A { ends.append(i) }
        if csv.last != 0x0A, !csv.isEmpty { ends.append(csv.count - 1) }
        guard let headerEnd = ends.first else { return [] }
        let rows = ends.count - 1
        let size = max(batch, 1)
        if rows <= size { return rows == 0 ? [] : [(csv, rows)] }
        let header = csv[...headerEnd]
        var bodies: [(bytes: [UInt8], rows: Int)] = []
        var first = 1
        while first <= rows {
            let last = min(first + size - 1, rows)
            var body = [UInt8](header)
            body += csv[(ends[first - 1] + 1)...ends[last]]
            if body.last != 0x0A { body.append(0x0A) }
            bodies.append((body, last - first + 1))
            first = last + 1
        }
        return bodies
    }

    /// Sends one body to the targets in turn from `first`: to the next when one does not answer, and
    /// again after the wait a 429 asks for.
    func post(rows: Int, tallies: [Tally], first: Int, request: (String) -> HTTPClientRequest) async {
        let started = ContinuousClock.now
        var accepted = 0
        var rejected = rows
        var failed = 1
        var retries = 0
        var attempt = 0
        var unanswered = 0
        func answer() async -> HTTPClientResponse? {
            // The client keeps trying to connect to a server that is down until the deadline: with
            // others to go to, the deadline is short, and every target is tried three times before
            // the request counts as failed (a busy server may answer later than a down one would
            // be given up on; rows it stored before the client gave up come back as duplicates).
            for _ in 0..<(target.count > 1 ? 3 * target.count : 1) {
                defer { attempt += 1 }
                let deadline: TimeAmount = target.count > 1 ? .seconds(3) : .seconds(30)
                if let response = try? await HTTPClient.shared.execute(request(target[(first + attempt) % target.count]), timeout: deadline) {
                    return response
                }
                unanswered += 1
            }
            return nil
        }
        // A busy server answers 429 with Retry-After: a gateway waits and sends the same rows again.
        while retries <= 10, let response = await answer() {
            let data = try? await response.body.collect(upTo: 1 << 20)
            if response.status == .tooManyRequests {
                retries += 1
                let wait = response.headers.first(name: "Retry-After").flatMap(Double.init) ?? 1
                try? await Task.sleep(for: .seconds(wait))
                continue
            }
            if response.status == .ok, let data, let report = try? JSONDecoder().decode(IngestReport.self, from: Data(buffer: data)) {
                accepted = report.inserted + report.duplicates
                rejected = report.rejected
                failed = 0
            }
            break
        }
        let latency = (ContinuousClock.now - started).inSeconds
        for tally in tallies {
            tally.state.withLock {
                $0.sent += rows
                $0.accepted += accepted
                $0.rejected += rejected
                $0.failedRequests += failed
                $0.retried += retries
                $0.rerouted += unanswered > 0 && target.count > 1 ? 1 : 0
                $0.latencies.append(latency)
            }
        }
    }

    /// The dashboard's pages and data requests for the first machine, ranges ending now.
    func dashboardProbes(machine: String, start: Timestamp, elapsed: Double) -> [(name: String, path: String)] {
        let now = start.adding(seconds: elapsed)
        func range(_ seconds: Double) -> String {
            "from=\(now.adding(seconds: -seconds).rfc3339)&to=\(now.rfc3339)"
        }
        let waveform = "/machines/\(machine)/waveform?sensor_no=sensor1&points=2000&"
        return [
            ("/ status board", "/"),
            ("/timeline", "/timeline?span=15m"),
            ("/data", "/data"),
            ("/data filtered by machine, range", "/data?machine_name=\(machine)&\(range(10))"),
            ("/diagnosis", "/diagnosis"),
            ("/machines/{name} page", "/machines/\(machine)"),
            // At 4 kHz the last 5 s are 20,000 samples, the most a waveform reads raw; 15 s come
            // from the 10 ms summary level.
            ("waveform, last 5 s", waveform + range(5)),
            ("waveform, last 15 s", waveform + range(15)),
            ("waveform, last minute", waveform + range(60)),
            ("GET /vibration-diagnosis/latest", "/vibration-diagnosis/latest"),
        ]
    }

    func probe(name: String, path: String, into pages: PageTimes) async {
        var request = HTTPClientRequest(url: target[0] + path)
        let isData = path.contains("/waveform") || path.hasPrefix("/vibration")
        request.headers.add(name: "Accept", value: isData ? "application/json" : "text/html")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        let started = ContinuousClock.now
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(30)),
            (try? await response.body.collect(upTo: 64 << 20)) != nil, response.status == .ok
        else {
            pages.record(name, server: nil, roundTrip: nil)
            return
        }
        let roundTrip = (ContinuousClock.now - started).inSeconds * 1000
        // The server's own time, from its Server-Timing header (app;dur=milliseconds).
        let server = response.headers.first(name: "Server-Timing").flatMap { $0.split(separator: "=").last }.flatMap { Double($0) }
        pages.record(name, server: server, roundTrip: roundTrip)
    }

    /// Times of the dashboard requests made during the stream, by request.
    final class PageTimes: Sendable {
        struct Times {
            var server: [Double] = []
            var roundTrip: [Double] = []
            var failed = 0
        }
        let state = Mutex<(order: [String], times: [String: Times])>(([], [:]))

        func record(_ name: String, server: Double?, roundTrip: Double?) {
            state.withLock {
                if $0.times[name] == nil { $0.order.append(name) }
                if let server { $0.times[name, default: Times()].server.append(server) }
                if let roundTrip { $0.times[name, default: Times()].roundTrip.append(roundTrip) } else { $0.times[name, default: Times()].failed += 1 }
            }
        }

        func print() {
            let (order, times) = state.withLock { $0 }
            Swift.print("\ndashboard during the stream (server time from its Server-Timing header; round trip on this machine)")
            Swift.print("request".padding(toLength: 36, withPad: " ", startingAt: 0) + "  requests  server p50  server p99  round trip p99  failed")
            for name in order {
                let t = times[name] ?? Times()
                func at(_ values: [Double], _ q: Double) -> String {
                    values.sorted().quantile(q).map { String(format: "%.1f ms", $0) } ?? "-"
                }
                let columns: [String] = [
                    name.padding(toLength: 36, withPad: " ", startingAt: 0), String(t.roundTrip.count).leftPadded(10),
                    at(t.server, 0.5).leftPadded(11), at(t.server, 0.99).leftPadded(12), at(t.roundTrip, 0.99).leftPadded(15),
                    String(t.failed).leftPadded(8),
                ]
                Swift.print(columns.joined())
            }
        }
    }

    func line(second: Int, _ s: Tally.State, seconds: Double) -> String {
        let sorted = s.latencies.sorted()
        func percentile(_ p: Double) -> String {
            sorted.quantile(p).map { String(format: "%.1f ms", $0 * 1000) } ?? "-"
        }
        return String(
            format: "%4d s  sent %@ rows/s  accepted %@  rejected %@  requests %@ (%@ failed, %@ retried after 429, %@ sent to another server)  latency p50 %@ p99 %@",
            second, Int(Double(s.sent) / seconds).grouped, s.accepted.grouped, s.rejected.grouped, s.latencies.count.grouped,
            s.failedRequests.grouped, s.retried.grouped, s.rerouted.grouped, percentile(0.5), percentile(0.99))
    }
}
