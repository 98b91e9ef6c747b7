import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import Testing

final class Count: Sendable {
    let value = Atomic<Int>(0)
}

@Suite("Crash consistency")
struct CrashTests {
    /// One upload of the test: its rows' identities and its body.
    struct Upload: Sendable {
        var rows: [String]
        var body: String
        var contentType: String
        var query: String
    }

    /// Client `c`'s request `r`: 1,000 rows of its own stream, as CSV, or every third as an atomic JSON array.
    static func upload(client c: Int, request r: Int, rows: Int) -> Upload {
        let machine = "crash-\(c)"
        let times = (0..<rows).map { String(format: "%.4f", Double(r * rows + $0) / 10_000) }
        let identities = times.map { "\(machine)|s1|\(Double($0)!)" }
        if r % 3 == 2 {
            let objects = times.map {
                #"{"machine_name":"\#(machine)","sensor_no":"s1","collected_at":"2025-01-01T00:00:00Z","measured_time":\#($0),"normal":0.1,"unbalance":0.2,"looseness":0.3,"unbalance_looseness":0.4}"#
            }
            return Upload(rows: identities, body: "[" + objects.joined(separator: ",") + "]", contentType: "application/json", query: "?atomic=true")
        }
        let lines = times.map { "\(machine),s1,2025-01-01T00:00:00Z,\($0),0.1,0.2,0.3,0.4\n" }
        return Upload(
            rows: identities, body: "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n" + lines.joined(),
            contentType: "text/csv", query: "")
    }

    static func send(_ upload: Upload, to base: String, with client: HTTPClient) async -> Bool {
        var request = HTTPClientRequest(url: base + "/vibration-data/bulk" + upload.query)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: upload.contentType)
        request.body = .bytes(ByteBuffer(string: upload.body))
        guard let response = try? await client.execute(request, timeout: .seconds(5)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 20)
        return (200..<300).contains(response.status.code)
    }

    @Test("SIGKILL during concurrent bulk uploads: after a restart and re-sending what got no 2xx, every row is stored once")
    func killDuringUploads() async throws {
        let dir = try temporaryFolder()
        let database = "\(dir)/crash.sqlite"
        let clients = 6
        let requests = 20
        let rowsPerRequest = 1_000
        let uploads = (0..<clients).map { c in (0..<requests).map { Self.upload(client: c, request: $0, rows: rowsPerRequest) } }
        let server = try await ServeCommandTests.startServer(["--no-auto-diagnose"], database: database)
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let base = "http://127.0.0.1:\(server.port)"

        // Each client sends its uploads one after another; the server is killed when about a third are answered.
        // Requests queued for a connection when the server dies would retry until their deadline: keep it short.
        let uploadClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let answered = Count()
        let pid = server.process.processIdentifier
        let killer = Task {
            while answered.value.load(ordering: .relaxed) < clients * requests / 3 { try await Task.sleep(for: .milliseconds(5)) }
            kill(pid, SIGKILL)
        }
        let succeeded: [[Bool]] = await withTaskGroup(of: (Int, [Bool]).self) { group in
            for c in 0..<clients {
                group.addTask {
                    var results: [Bool] = []
                    for upload in uploads[c] {
                        // A gateway that loses the server keeps the rest for later, as the simulator's would.
                        guard results.last != false else {
                            results.append(false)
                            continue
                        }
                        results.append(await Self.send(upload, to: base, with: uploadClient))
                        answered.value.add(1, ordering: .relaxed)
                    }
                    return (c, results)
                }
            }
            var all = Array(repeating: [Bool](), count: clients)
            for await (c, results) in group { all[c] = results }
            return all
        }
        try await killer.value
        try await uploadClient.shutdown()
        await server.process.exited()
        let lost = succeeded.joined().filter { !$0 }.count
        #expect(lost > 0 && lost < clients * requests, "the kill must land while uploads are in flight (\(lost) without 2xx)")

        // Restart on the same database and send again whatever got no 2xx.
        let restarted = try await ServeCommandTests.startServer(["--no-auto-diagnose"], database: database, port: server.port)
        defer { if restarted.process.isRunning { kill(restarted.process.processIdentifier, SIGKILL) } }
        // A new client: the first one's connection pool backs off from the dead server.
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        for c in 0..<clients {
            for (r, ok) in succeeded[c].enumerated() where !ok {
                #expect(await Self.send(uploads[c][r], to: base, with: client), "re-sending client \(c) request \(r)")
            }
        }
        try await client.shutdown()

        // Exactly the rows sent, each once.
        let sent = uploads.joined().flatMap(\.rows)
        let export = try #require(await ServeCommandTests.get(base + "/vibration-data.csv"))
        let lines = String(decoding: export, as: UTF8.self).split(separator: "\n").dropFirst()
        let stored = lines.map { line -> String in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            return "\(f[0])|\(f[1])|\(Double(f[3]) ?? .nan)"
        }
        #expect(stored.count == sent.count)
        #expect(Set(stored).count == stored.count, "a row is stored twice")
        #expect(Set(stored) == Set(sent))
        // The waveform summary, written in the same transactions, agrees.
        let machines = try #require(await ServeCommandTests.get(base + "/machines"))
        let items = (try JSONSerialization.jsonObject(with: machines) as? [String: Any])?["items"] as? [[String: Any]] ?? []
        #expect(items.compactMap { $0["sample_count"] as? Int }.reduce(0, +) == sent.count)
        kill(restarted.process.processIdentifier, SIGINT)
        await restarted.process.exited()
    }
}
