import AsyncHTTPClient
import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import OpenAPIRuntime
import StoreTestSupport
import Testing
import VibrationCore
@testable import VibrationPipeline

@testable import VibrationServer
@testable import VibrationStore

/// What anyone who can reach the server may send: the extremes of every parameter the API document
/// lists, compressed bombs, values no sensor can measure, forged sessions, hostile names, slow
/// clients. Each case of an earlier attack is kept here; the rule is that the server answers with a
/// 4xx it documents, stores nothing half-way and keeps serving.
@Suite("Hostile input")
struct HostileInputTests {
    static let start = "2025-01-01T00:00:00Z"

    /// Two seconds of one sensor at 1 kHz, the machine registered, and diagnoses at both ends of
    /// the calendar and in between.
    static func seed(_ client: some TestClientProtocol, _ store: any Store) async throws {
        var csv = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"
        for i in 0..<2_000 {
            let t = Double(i) / 1_000
            csv += "g1,s1,2025-01-01 00:00:\(String(format: "%09.6f", t)),\(t),\(sin(2 * .pi * 30 * t)),0.1,0.2,0.3\n"
        }
        let loaded = try await client.call(.post, "/vibration-data/bulk", json: csv, contentType: "text/csv")
        #expect(loaded["inserted"] as? Int == 2_000, "\(loaded.text)")
        _ = try await store.save(MachineConfig(machineName: "g1", line: "A"))
        for at in ["0001-01-01T00:00:00Z", "2025-01-01T00:00:01Z", "9999-12-31T23:59:59.999999Z"] {
            let stored = try await client.call(.post, "/vibration-diagnosis", json: #"{"machine_name": "g1", "fault_type": 1, "detected_at": "\#(at)"}"#)
            #expect(stored.status == .created, "\(stored.text)")
        }
    }

    static let integers = ["-9223372036854775808", "9223372036854775807", "9223372036854775808", "-1", "0", "4294967296"]
    static let numbers = ["1e308", "-1e308", "5e-324", "0", "-0", "1e309", "NaN", "-Infinity"]
    static let times = [
        "0001-01-01", "9999-12-31", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59", "1970-01-01T00:00:00Z",
    ]
    static let cursors = [
        "s7fffffffffffffff.0.1", "s-8000000000000000.7ff8000000000000.1", "s0.7ff0000000000000.0", "d7fffffffffffffff.1",
        "d-8000000000000000.-8000000000000000",
    ]

    /// The extreme values of a parameter of this name and schema type; nil for parameters that
    /// take a word (names, orders, channels).
    static func extremes(name: String, type: String?) -> [String]? {
        switch (name, type) {
        case ("from", _), ("to", _), ("at", _): times
        case ("cursor", _): cursors
        case (_, "integer"): integers
        case (_, "number"): numbers
        default: nil
        }
    }

    /// A sane value for every parameter a request must carry.
    static let sane = ["sensor_no": "s1", "from": start, "to": "2025-01-01T00:00:02Z", "at": start, "name": "g1", "id": "1"]

    static func query(_ values: [String: String]) -> String {
        var parts = URLComponents()
        parts.queryItems = values.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        // '+' in a time's offset must arrive as '+', not as a space.
        return (parts.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
    }

    @Test("every number and time parameter of every read, at its extremes, gets an answer below 500", arguments: Backend.available)
    func extremeParameters(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            try await Self.seed(client, store)
            let spec = try await client.call(.get, "/openapi.json")
            let document = try #require(spec.json as? [String: Any])
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var failures: [String] = []
            var sent = 0
            for (template, operations) in paths.sorted(by: { $0.key < $1.key }) {
                guard let get = operations["get"] as? [String: Any] else { continue }
                let parameters = ((get["parameters"] as? [[String: Any]]) ?? []).map { parameter in
                    (name: parameter["name"] as? String ?? "", place: parameter["in"] as? String ?? "",
                     type: (parameter["schema"] as? [String: Any])?["type"] as? String,
                     required: parameter["required"] as? Bool ?? false)
                }
                var base: [String: String] = [:]
                for p in parameters where p.required { base[p.name] = Self.sane[p.name] ?? "x" }
                func send(_ values: [String: String]) async throws {
                    var path = template
                    var query = values
                    for p in parameters where p.place == "path" {
                        path = path.replacingOccurrences(of: "{\(p.name)}", with: query.removeValue(forKey: p.name) ?? "g1")
                    }
                    let uri = query.isEmpty ? path : path + "?" + Self.query(query)
                    let reply = try await client.call(.get, uri)
                    sent += 1
                    if reply.status.code >= 500 { failures.append("\(uri) -> \(reply.status.code) \(reply.text.prefix(200))") }
                }
                try await send(base)
                for p in parameters {
                    for value in Self.extremes(name: p.name, type: p.type) ?? [] {
                        var values = base
                        values[p.name] = value
                        try await send(values)
                    }
                }
                // The widest and the inverted ranges.
                if parameters.contains(where: { $0.name == "from" }), parameters.contains(where: { $0.name == "to" }) {
                    for (from, to) in [("0001-01-01", "9999-12-31"), ("9999-12-31", "0001-01-01"), (Self.times[2], Self.times[3])] {
                        var values = base
                        values["from"] = from
                        values["to"] = to
                        try await send(values)
                    }
                }
            }
            // The dashboard's pages take the same kinds of parameters.
            let pages: [(String, [String])] = [
                ("/", ["line", "state"]), ("/data", ["from", "to", "cursor", "limit"]), ("/diagnosis", ["from", "to", "cursor", "fault_type"]),
                ("/timeline", ["from", "to", "span"]), ("/machines/g1", ["from", "to", "at", "sensor_no"]),
            ]
            for (page, names) in pages {
                for name in names {
                    for value in (Self.extremes(name: name, type: "integer") ?? []) + ["", "%00", String(repeating: "9", count: 400)] {
                        let reply = try await client.call(.get, page + "?" + Self.query([name: value]), headers: [.accept: "text/html"])
                        sent += 1
                        if reply.status.code >= 500 { failures.append("\(page) \(name)=\(value) -> \(reply.status.code)") }
                    }
                }
                for (from, to) in [("0001-01-01", "9999-12-31"), ("9999-12-31", "0001-01-01"), (Self.times[4], Self.times[5])] {
                    let reply = try await client.call(.get, page + "?" + Self.query(["from": from, "to": to]), headers: [.accept: "text/html"])
                    sent += 1
                    if reply.status.code >= 500 { failures.append("\(page) from=\(from) to=\(to) -> \(reply.status.code)") }
                }
            }
            #expect(failures.isEmpty, "\(failures.count) of \(sent) requests failed:\n\(failures.joined(separator: "\n"))")
            #expect(sent > 200)
            // The timeline over all of the calendar shows the three diagnoses.
            let timeline = try await client.call(.get, "/timeline?from=0001-01-01&to=9999-12-31")
            #expect(timeline.status == .ok && timeline.text.contains("data-count=\"3\""))
            #expect(try await client.call(.get, "/health").status == .ok)
        }
    }

    @Test("every number and time field of every write, at its extremes, gets an answer below 500", arguments: Backend.available)
    func extremeBodies(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            try await Self.seed(client, store)
            let spec = try #require(try await client.call(.get, "/openapi.json").json as? [String: Any])
            let schemas = try #require((spec["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
            let paths = try #require(spec["paths"] as? [String: [String: [String: Any]]])
            func properties(_ schema: [String: Any]) -> [String: [String: Any]] {
                if let ref = schema["$ref"] as? String, let resolved = schemas[String(ref.split(separator: "/").last!)] {
                    return properties(resolved)
                }
                return schema["properties"] as? [String: [String: Any]] ?? [:]
            }
            // A valid body of each JSON write; each of its number and time fields is then replaced
            // by every extreme in turn.
            let writes: [(method: String, path: String, base: [String: Any])] = [
                ("post", "/vibration-data", [
                    "machine_name": "g2", "sensor_no": "s1", "measured_time": 0.5, "normal": 0.1, "unbalance": 0.1, "looseness": 0.1,
                    "unbalance_looseness": 0.1,
                ]),
                ("post", "/vibration-diagnosis", ["machine_name": "g1", "fault_type": 1]),
                ("put", "/machines/{name}", ["line": "A"]),
                ("post", "/machines/{name}/baseline", ["from": Self.start, "to": "2025-01-01T00:00:02Z"]),
                ("post", "/diagnose", ["values": (0..<256).map { sin(Double($0)) }, "sample_rate_hz": 1_000]),
            ]
            var failures: [String] = []
            var sent = 0
            for write in writes {
                let body = (paths[write.path]?[write.method]?["requestBody"] as? [String: Any])
                    .flatMap { ($0["content"] as? [String: Any])?["application/json"] as? [String: Any] }
                let fields = properties(body?["schema"] as? [String: Any] ?? [:])
                #expect(!fields.isEmpty, "no JSON body for \(write.method) \(write.path) in the document")
                for (name, schema) in fields.sorted(by: { $0.key < $1.key }) {
                    let type = schema["type"] as? String ?? (schema["type"] as? [String])?.first { $0 != "null" }
                    let isTime = name.hasSuffix("_at") || name == "from" || name == "to"
                    let values: [String] =
                        isTime ? Self.times.map { "\"\($0)\"" }
                        : type == "integer" ? Self.integers
                        : type == "number" ? ["1e308", "-1e308", "5e-324", "0", "-0", "1e309"]
                        : type == "array" ? ["[1e308, -1e308, 1e308, -1e308, 1e308]", "[100000, -100000, 100000, -100000]"] : []
                    var others = write.base
                    others.removeValue(forKey: name)
                    var prefix = String(decoding: try JSONSerialization.data(withJSONObject: others, options: [.sortedKeys]), as: UTF8.self)
                    prefix.removeLast()
                    for value in values {
                        let text = prefix + (others.isEmpty ? "" : ",") + "\"\(name)\": \(value)}"
                        let path = write.path.replacingOccurrences(of: "{name}", with: "g1")
                        let reply = try await client.call(HTTPRequest.Method(write.method.uppercased())!, path, json: text)
                        sent += 1
                        if reply.status.code >= 500 { failures.append("\(write.method) \(path) \(text.prefix(120)) -> \(reply.status.code) \(reply.text.prefix(200))") }
                    }
                }
            }
            #expect(failures.isEmpty, "\(failures.count) of \(sent) requests failed:\n\(failures.joined(separator: "\n"))")
            #expect(sent > 40)
            #expect(try await client.call(.get, "/health").status == .ok)
        }
    }

    // MARK: Compressed bombs

    static func zeros(_ count: Int) throws -> ByteBuffer {
        var plain = ByteBuffer(repeating: UInt8(ascii: "0"), count: count)
        return try plain.compress(with: .gzip)
    }

    @Test("gzip inflates a window at a time, stops at its limit as it expands, and refuses what is not gzip")
    func gunzipBounded() async throws {
        let bomb = try Self.zeros(24 << 20)
        #expect(bomb.readableBytes < 100_000)
        // The whole bomb as one chunk: never more than a window of it at once.
        var largest = 0
        var total = 0
        for try await chunk in GunzippedChunks(Self.single(bomb)) {
            largest = max(largest, chunk.readableBytes)
            total += chunk.readableBytes
        }
        #expect(total == 24 << 20 && largest <= 1 << 20)
        // With a limit, it stops within a window past the limit.
        var inflated = 0
        await #expect(throws: ExpansionLimitError.self) {
            for try await chunk in GunzippedChunks(Self.single(bomb), limit: 3 << 20) { inflated += chunk.readableBytes }
        }
        #expect(inflated <= 3 << 20)
        // Two gzip members one after the other (files joined with cat) read as one stream.
        var a = ByteBuffer(string: "first,"), b = ByteBuffer(string: "second")
        var joined = try a.compress(with: .gzip)
        var second = try b.compress(with: .gzip)
        joined.writeBuffer(&second)
        var text = ""
        for try await chunk in GunzippedChunks(Self.single(joined)) { text += String(buffer: chunk) }
        #expect(text == "first,second")
        // Garbage after a member is refused instead of spinning.
        var trailing = try Self.zeros(10)
        trailing.writeString("this is not gzip")
        await #expect(throws: GzipError.self) {
            for try await _ in GunzippedChunks(Self.single(trailing)) {}
        }
    }

    static func single(_ buffer: ByteBuffer) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            continuation.yield(buffer)
            continuation.finish()
        }
    }

    @Test("a gzip JSON body that inflates past the size limit is 413 and stores nothing", arguments: Backend.available)
    func gzipBombJSON(backend: Backend) async throws {
        try await withApp(backend: backend, configure: { $0.maximumJSONBytes = 1 << 20 }) { client, store in
            let bomb = try Self.zeros(32 << 20)
            for path in ["/vibration-data/bulk", "/vibration-diagnosis/bulk"] {
                let reply = try await client.call(.post, path, headers: [.contentEncoding: "gzip"], bytes: bomb)
                #expect(reply.status == .contentTooLarge && reply.isProblem, "\(path): \(reply.status) \(reply.text.prefix(200))")
            }
            #expect(try await store.sampleCount() == 0)
        }
    }

    // MARK: Values no sensor measures

    @Test("accelerations beyond ±100,000 g are refused at every door with line and column; the bound itself is stored", arguments: Backend.available)
    func accelerationBound(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            let header = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"
            let csv = header + "g1,s1,,0.001,1e300,0,0,0\ng1,s1,,0.002,0,-100000.5,0,0\ng1,s1,,0.003,100000,-100000,0,0\n"
            let reply = try await client.call(.post, "/vibration-data/bulk", json: csv, contentType: "text/csv")
            #expect(reply["inserted"] as? Int == 1)
            let errors = (reply["errors"] as? [[String: Any]] ?? []).map { "\($0["line"]!) \($0["column"]!)" }
            #expect(errors == ["2 normal", "3 unbalance"])
            let ndjson = #"{"machine_name": "g1", "sensor_no": "s1", "measured_time": 0.004, "normal": 0, "unbalance": 0, "looseness": -1e300, "unbalance_looseness": 0}"#
            let fromNDJSON = try await client.call(.post, "/vibration-data/bulk", json: ndjson + "\n", contentType: "application/x-ndjson")
            #expect((fromNDJSON["errors"] as? [[String: Any]])?.first?["column"] as? String == "looseness")
            let array = "[" + ndjson.replacingOccurrences(of: "-1e300", with: "0").replacingOccurrences(of: "\"unbalance_looseness\": 0", with: "\"unbalance_looseness\": 2e5") + "]"
            let fromArray = try await client.call(.post, "/vibration-data/bulk", json: array)
            #expect((fromArray["errors"] as? [[String: Any]])?.first?["column"] as? String == "unbalance_looseness", "\(fromArray.text)")
            let single = try await client.call(.post, "/vibration-data", json: sampleJSON(normal: "1e300"))
            #expect(single.status == .unprocessableContent && single.errorFields == ["normal"])
            #expect(try await store.sampleCount() == 1)
        }
    }

    @Test("the engine passes over a window it cannot analyse and diagnoses the others")
    func engineSkipsUnanalysable() async throws {
        let good = AnalysisWindow(
            machineName: "good", sensorNo: "s1", sensorID: 1, channel: .normal, recordingStart: Timestamp(microseconds: 0), index: 0, seconds: 1)
        var bad = good
        bad.machineName = "bad"
        let times = (0..<1_000).map { Double($0) / 1_000 }
        let signal = times.map { 0.3 * sin(2 * .pi * 25 * $0) }
        // What a database written before the bound holds: values far beyond any sensor.
        let huge = times.map { 1e300 * sin(2 * .pi * 25 * $0) }
        let (results, skipped, unanalysable) = await DiagnosisService.classify(
            [bad, good, bad], [(times, huge), (times, signal), (times, signal.map { $0 + 1e200 })], profiles: [:],
            classifier: FaultClassifier(), minimumSamples: 64)
        #expect(results.map(\.window.machineName) == ["good"])
        let finite = results.allSatisfy { $0.diagnosis.isFinite }
        #expect(finite)
        #expect(skipped.isEmpty && unanalysable.count == 2)
    }

    @Test("/diagnose answers 422 for values it cannot analyse and a finite verdict at the bound itself")
    func diagnoseBound() async throws {
        try await withApp { client, _ in
            let beyond = (0..<512).map { $0 % 2 == 0 ? "1e308" : "-1e308" }.joined(separator: ",")
            let refused = try await client.call(.post, "/diagnose", json: #"{"values": [\#(beyond)], "sample_rate_hz": 1000}"#)
            #expect(refused.status == .unprocessableContent && refused.errorFields == ["values/0"], "\(refused.text)")
            let atBound = (0..<4_096).map { String(100_000 * sin(Double($0) * 0.37)) }.joined(separator: ",")
            let answered = try await client.call(.post, "/diagnose", json: #"{"values": [\#(atBound)], "sample_rate_hz": 25600}"#)
            #expect(answered.status == .ok, "\(answered.text.prefix(300))")
            #expect(answered["fault_type"] != nil)
        }
    }

    // MARK: Secrets in logs

    @Test("a failed request's log line names the operation and cause, never its key or body")
    func loggableError() {
        var request = HTTPRequest(method: .post, scheme: "http", authority: "h", path: "/diagnose")
        request.headerFields[.authorization] = "Bearer hm_secretsecret"
        let error = ServerError(
            operationID: "diagnoseWaveform", request: request, requestBody: HTTPBody("{\"values\": [\"body-secret\"]}"),
            requestMetadata: .init(), causeDescription: "Unknown", underlyingError: ValidationError(field: "values", message: "bad"))
        #expect("\(error)".contains("hm_secretsecret"))
        let logged = Problem.loggable(error)
        #expect(logged.contains("diagnoseWaveform") && logged.contains("values"))
        #expect(!logged.contains("hm_secretsecret") && !logged.contains("body-secret"))
    }

    @Test("the webhook's secret path stays out of logs")
    func webhookReceiver() {
        let hook = AlarmWebhook(url: "https://hooks.example.com:8443/services/T000/B000/XXXXSECRET?token=abc", logger: Logger(label: "t"))
        #expect(hook.receiver == "https://hooks.example.com:8443")
    }

    // MARK: What browsers and spreadsheets run

    @Test("pages carry a Content Security Policy and no-framing, no-sniffing headers; API answers no-sniffing")
    func securityHeaders() async throws {
        try await withApp { client, _ in
            for path in ["/", "/data", "/diagnosis", "/timeline", "/docs", "/login"] {
                let page = try await client.call(.get, path, headers: [.accept: "text/html"])
                #expect(page.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true, "\(path)")
                #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true, "\(path)")
                #expect(page.headers[.xFrameOptions] == "DENY" && page.headers[.xContentTypeOptions] == "nosniff", "\(path)")
            }
            let api = try await client.call(.get, "/vibration-data")
            #expect(api.headers[.xContentTypeOptions] == "nosniff" && api.headers[.contentSecurityPolicy] == nil)
            let missing = try await client.call(.get, "/nothing-here")
            #expect(missing.status == .notFound && missing.headers[.xContentTypeOptions] == "nosniff")
        }
    }

    static let formulaNames = ["=1+2", "+cmd", "-2+3", "@SUM(A1)", "'=x", "''-y", "'plain", "a=b", "=\"q,\""]

    @Test("the CSV export marks cells a spreadsheet would run, and reads back to the same names", arguments: Backend.available)
    func csvInjection(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            let rows = Self.formulaNames.enumerated().map { i, name in
                sampleJSON(machine: name.replacingOccurrences(of: "\"", with: "\\\""), sensor: name == "+cmd" ? "=S" : "s1", time: Double(i) / 10)
            }
            let stored = try await client.call(.post, "/vibration-data/bulk", json: "[" + rows.joined(separator: ",") + "]")
            #expect(stored["inserted"] as? Int == Self.formulaNames.count, "\(stored.text)")
            let export = try await client.call(.get, "/vibration-data.csv")
            let lines = export.text.split(separator: "\n").dropFirst()
            for line in lines {
                // No cell starts with what a spreadsheet runs.
                let cells = line.split(separator: ",", omittingEmptySubsequences: false)
                for cell in cells.prefix(2) {
                    let unquoted = cell.hasPrefix("\"") ? cell.dropFirst() : cell
                    #expect(!["=", "+", "-", "@"].contains(unquoted.first.map(String.init) ?? ""), "\(line)")
                }
            }
            #expect(export.text.contains("'=1+2,s1,") && export.text.contains("'+cmd,'=S,") && export.text.contains("'''-y,"))
            #expect(export.text.contains("\n'plain,") && export.text.contains("\na=b,"))
            // The export reads back to the names that were stored.
            var parser = SampleCSVParser(layout: .product, now: .now)
            var batch = SampleBatch()
            try Array(export.text.utf8).withUnsafeBytes { try parser.decode($0, into: &batch) }
            try parser.finish(into: &batch)
            #expect(Set(batch.newStreams.map(\.machineName)) == Set(Self.formulaNames))
            #expect(batch.newStreams.contains { $0.sensorNo == "=S" })
        }
    }

    @Test("the timeline links each machine by its whole name, encoded")
    func timelineLinks() async throws {
        try await withApp { client, store in
            let name = "a/b?c#d e&f"
            _ = try await store.save(MachineConfig(machineName: name))
            _ = try await store.insert(Diagnosis(machineName: name, detectedAt: Timestamp(parsing: Self.start)!, faultType: .supportLooseness))
            let page = try await client.call(.get, "/timeline?from=2024-12-31&to=2025-01-02")
            #expect(page.text.contains("href=\"/machines/a%2Fb%3Fc%23d%20e%26f?at="), "\(page.text.prefix(3000))")
        }
    }

    // MARK: Slow clients

    /// Opens a connection and sends `head` then `body`, a few bytes at a time with `pause` between;
    /// returns how long the server kept the connection open, or nil when it outlasted `limit`.
    static func trickle(port: Int, head: String, body: String, pause: Duration, limit: Duration) async throws -> Duration? {
        try await onOwnThread { try trickleBlocking(port: port, head: head, body: body, pause: pause, limit: limit) }
    }

    private static func trickleBlocking(port: Int, head: String, body: String, pause: Duration, limit: Duration) throws -> Duration? {
        let fd = try loopbackConnection(port: port)
        defer { close(fd) }
        var flags: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &flags, socklen_t(MemoryLayout<Int32>.size))
        signal(SIGPIPE, SIG_IGN)
        let started = ContinuousClock.now
        let bytes = Array((head + body).utf8)
        var sentHead = false
        var i = 0
        while ContinuousClock.now - started < limit {
            let step = sentHead ? 1 : 3
            if i < bytes.count {
                let end = min(bytes.count, i + step)
                let written = bytes[i..<end].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written < 0 { return ContinuousClock.now - started }
                i = end
                if i >= head.utf8.count { sentHead = true }
            }
            // A closed connection reads as end of file.
            var pollfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pollfd, 1, Int32(pause.components.seconds * 1000 + pause.components.attoseconds / 1_000_000_000_000_000)) > 0 {
                var byte: UInt8 = 0
                let received = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
                if received == 0 || (received < 0 && errno != EAGAIN) { return ContinuousClock.now - started }
            }
        }
        return nil
    }

    @Test("a head or body that trickles in is cut off by its overall deadline, and its import slot freed")
    func slowClients() async throws {
        try await withApp(
            configure: {
                $0.deadlines.head = .seconds(1)
                $0.deadlines.bodyGrace = .seconds(1)
                $0.deadlines.minimumBodyRate = 200
                $0.maximumConcurrentImports = 1
            }, mode: .live
        ) { client, store in
            let port = try #require(client.port)
            // A head of three bytes every 100 ms, 40 s in all: each byte would restart an idle timer.
            // The bounds below sit far from both the deadline and the whole trickle, so that a
            // machine busy with the rest of the suite cannot blur the two.
            let head = "POST /vibration-data/bulk HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nX-Padding: " + String(repeating: "p", count: 1_100) + "\r\n\r\n"
            let headCut = try await Self.trickle(port: port, head: head, body: "", pause: .milliseconds(100), limit: .seconds(60))
            #expect(headCut != nil && headCut! < .seconds(20), "the head was allowed \(String(describing: headCut))")
            // A body of one byte every 100 ms (10 B/s, below the 200 B/s asked for; 200 s in all).
            let chunked = "POST /vibration-data/bulk HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\n"
            let body = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n" + String(repeating: "g1,s1,,0.1,0,0,0,0\n", count: 100)
            let bodyCut = try await Self.trickle(port: port, head: chunked, body: body, pause: .milliseconds(100), limit: .seconds(60))
            #expect(bodyCut != nil && bodyCut! < .seconds(30), "the body was allowed \(String(describing: bodyCut))")
            // The one import slot is free again, and the server serves.
            try await Task.sleep(for: .milliseconds(300))
            let base = "http://127.0.0.1:\(port)"
            var upload = HTTPClientRequest(url: base + "/vibration-data/bulk")
            upload.method = .POST
            upload.headers.add(name: "Content-Type", value: "text/csv")
            upload.body = .bytes(ByteBuffer(string: body))
            let response = try await HTTPClient.shared.execute(upload, timeout: .seconds(60))
            #expect(response.status == .ok)
            _ = try await response.body.collect(upTo: 1 << 20)
            #expect(try await store.sampleCount() == 1)
        }
    }
}
