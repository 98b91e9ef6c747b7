import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import StoreTestSupport
import Synchronization
import Testing
@testable import VibrationStore

/// Three `himmes serve` processes on one PostgreSQL schema, gateways streaming through all of them,
/// one server killed with SIGKILL mid-stream and started again: what a plant running several
/// servers relies on.
@Suite("A cluster of servers", .enabled(if: Backend.hasPostgres, "HIMMES_TEST_POSTGRES_URL is not set: no PostgreSQL server for the cluster"))
struct ClusterTests {
    /// A server process on its port.
    final class Server: @unchecked Sendable {
        let port: Int
        let arguments: [String]
        var process: Process?

        init(port: Int, arguments: [String]) {
            self.port = port
            self.arguments = arguments
        }

        func start() async throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Himmes.path)
            process.arguments = ["serve", "--port", "\(port)", "--log-level", "error"] + arguments
            try process.run()
            self.process = process
            for _ in 0..<150 {
                if await ServeCommandTests.get("http://127.0.0.1:\(port)/health") != nil { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "himmes serve did not start on port \(port)"])
        }

        func kill(_ signal: Int32) {
            if let process, process.isRunning { Glibc.kill(process.processIdentifier, signal) }
            process?.waitUntilExit()
        }
    }

    @Test("SIGKILL one of three servers mid-stream, restart it: every row stored once, every window diagnosed once, alarms opened and posted once", .timeLimit(.minutes(10)))
    func killOneOfThree() async throws {
        let location = try Backend.freshPostgresLocation()
        // The alarm webhook's receiver: which alarm ids were posted, how often.
        let posted = Mutex<[Int]>([])
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 16)
            let object = try JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8)) as? [String: Any]
            posted.withLock { $0.append(object?["id"] as? Int ?? -1) }
            return .noContent
        }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiver.test(.live) { client in
            let hook = "http://127.0.0.1:\(try #require(client.port))/hook"
            let base = Int.random(in: 20_000..<39_000)
            // With a standby, the servers read from it (`--read-db`).
            var standby: PostgresLocation?
            if let url = Backend.standbyURL {
                standby = try PostgresLocation(url: url)
                standby?.schema = location.schema
            }
            let servers = (0..<3).map {
                Server(port: base + $0, arguments: ["--db", location.url, "--alarm-webhook", hook] + (standby.map { ["--read-db", $0.url] } ?? []))
            }
            defer { for server in servers { server.kill(SIGKILL) } }
            for server in servers { try await server.start() }
            let machines = 6
            let rate = 500
            let duration = 24
            // The gateways take turns over the three servers and send to the next one when a
            // server does not answer, as behind a load balancer.
            async let streamed = Himmes.run(
                ["simulate", "--machines", "\(machines)", "--rate", "\(rate)", "--duration", "\(duration)"]
                    + servers.flatMap { ["--target", "http://127.0.0.1:\($0.port)"] })
            try await Task.sleep(for: .seconds(8))
            servers[1].kill(SIGKILL)
            try await Task.sleep(for: .seconds(7))
            try await servers[1].start()
            let run = try await streamed
            Logger(label: "cluster").info("\(run.out.split(separator: "\n").last ?? "")")
            let summary = try #require(run.out.split(separator: "\n").last { $0.hasPrefix("summary:") })
            func figure(_ name: String) -> Int? {
                guard let range = summary.range(of: #"\#(name) [0-9,]+"#, options: .regularExpression) else { return nil }
                return Int(summary[range].dropFirst(name.count + 1).replacingOccurrences(of: ",", with: ""))
            }
            let sent = machines * rate * duration
            #expect(run.status == 0, "\(summary)")
            #expect(figure("accepted") == sent, "\(summary)")
            #expect(figure("rejected") == 0)
            #expect(summary.contains("(0 failed"), "\(summary)")
            // Requests did meet the stopped server, and went on to the others.
            #expect(summary.range(of: #", [1-9][0-9,]* sent to another server"#, options: .regularExpression) != nil, "\(summary)")

            let connection = try await PostgresConnection.connect(
                configuration: location.connectionConfiguration(), id: 1, logger: Logger(label: "cluster"))
            defer { Task { try? await connection.close() } }
            /// The count a query of the test's schema answers, on the primary or on `session`.
            func count(_ sql: String, on session: PostgresConnection? = nil) async throws -> Int {
                let session = session ?? connection
                let rows = try await session.query(
                    PostgresQuery(unsafeSQL: sql.replacingOccurrences(of: "$schema", with: location.schema!)), logger: session.logger)
                for try await value in rows.decode(Int64.self) { return Int(value) }
                return -1
            }
            // Every acknowledged row is stored, once (the identity is the table's key).
            #expect(try await count("SELECT count(*) FROM $schema.vibration_data") == sent)
            // Every window of every machine is diagnosed, once, when the engines have caught up.
            let windows = machines * duration
            let started = ContinuousClock.now
            while try await count("SELECT count(*) FROM $schema.vibration_diagnosis") < windows, ContinuousClock.now - started < .seconds(60) {
                try await Task.sleep(for: .milliseconds(500))
            }
            try await Task.sleep(for: .seconds(2))
            #expect(try await count("SELECT count(*) FROM $schema.vibration_diagnosis") == windows)
            #expect(try await count("SELECT count(DISTINCT (machine_name, detected_at)) FROM $schema.vibration_diagnosis") == windows)
            #expect(try await count("SELECT count(DISTINCT (sensor_id, window_start, channel)) FROM $schema.diagnosis_evidence") == windows)
            // Alarms: opened once per machine and episode, each posted once.
            let alarms = try await count("SELECT count(*) FROM $schema.alarms")
            #expect(alarms > 0)
            #expect(try await count("SELECT count(DISTINCT (machine_name, fault_type, opened_at)) FROM $schema.alarms") == alarms)
            try await Task.sleep(for: .seconds(1))
            let ids = posted.withLock { $0 }
            #expect(ids.count == alarms && Set(ids).count == ids.count, "posted \(ids), \(alarms) alarms")
            let stored = try await count("SELECT count(*) FROM $schema.vibration_data")
            let diagnosed = try await count("SELECT count(*) FROM $schema.vibration_diagnosis")
            let distinct = try await count("SELECT count(DISTINCT (machine_name, detected_at)) FROM $schema.vibration_diagnosis")
            print(
                "cluster: rows sent \(sent), acknowledged \(figure("accepted") ?? -1), stored \(stored); windows \(windows), diagnosed \(diagnosed), "
                    + "duplicate verdicts \(diagnosed - distinct); alarms \(alarms), webhook posts \(ids.count)")
            // The machines are held by live servers only: the killed process's leases went to the others.
            #expect(
                try await count(
                    """
                    SELECT count(*) FROM $schema.engine_leases l
                    WHERE NOT EXISTS (SELECT 1 FROM $schema.engine_servers s WHERE s.holder = l.holder AND s.seen_at > now() - interval '5 seconds')
                    """) == 0)
            #expect(try await count("SELECT count(*) FROM $schema.engine_leases") == machines)
            #expect(try await count("SELECT count(DISTINCT holder) FROM $schema.engine_leases") >= 2)

            // Reads on the standby converge: every row and verdict is there, and each server's lists show them.
            guard let standby else {
                print("HIMMES_TEST_STANDBY_URL is not set: the cluster's reads from a standby are not tested")
                return
            }
            let replica = try await PostgresConnection.connect(configuration: standby.connectionConfiguration(), id: 2, logger: Logger(label: "cluster"))
            defer { Task { try? await replica.close() } }
            let waited = ContinuousClock.now
            while try await count("SELECT count(*) FROM $schema.vibration_diagnosis", on: replica) < windows, ContinuousClock.now - waited < .seconds(60) {
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(try await count("SELECT count(*) FROM $schema.vibration_data", on: replica) == sent)
            #expect(try await count("SELECT count(*) FROM $schema.vibration_diagnosis", on: replica) == windows)
            for server in servers {
                let health = try #require(await ServeCommandTests.get("http://127.0.0.1:\(server.port)/health"))
                #expect(String(decoding: health, as: UTF8.self).contains(#""state":"streaming""#))
                let latest = try #require(await ServeCommandTests.get("http://127.0.0.1:\(server.port)/vibration-diagnosis/latest"))
                let items = (try JSONSerialization.jsonObject(with: latest) as? [String: Any])?["items"] as? [Any]
                #expect(items?.count == machines)
            }
        }
    }
}
