import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import StoreTestSupport
import Testing
import VibrationCore

@testable import VibrationServer
@testable import VibrationStore

/// `serve --read-db`: the dashboard and the lists read from a standby; writes stay on the primary.
@Suite("Reads from a standby", .enabled(if: Backend.hasPostgres, "HIMMES_TEST_POSTGRES_URL is not set: no PostgreSQL server to test"))
struct StandbyReadsTests {
    static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    static func latestMachines(_ client: some TestClientProtocol) async throws -> [String] {
        try await client.call(.get, "/vibration-diagnosis/latest").items.compactMap { $0["machine_name"] as? String }
    }

    // The limit catches a hang, not slowness: making the fresh schema beside the rest of the suite
    // has taken most of a minute.
    @Test("while the standby does not answer, reads go to the primary and /health says it is down", .timeLimit(.minutes(10)))
    func standbyDown() async throws {
        let location = try Backend.freshPostgresLocation()
        let primary = try await PostgresStore.connect(location, maximumConnections: 4, logger: Self.logger)
        primary.start()
        defer { primary.close() }
        var nowhere = location
        nowhere.port = 1
        let reads = StandbyReads(primary: primary, standby: .standby(nowhere, logger: Self.logger), logger: Self.logger)
        let watching = Task { try await reads.run() }
        defer { watching.cancel() }
        let app = try buildApplication(store: reads, config: ServerConfig(logLevel: .error, automaticDiagnosis: false))
        try await app.test(.router) { client in
            while reads.condition == .unknown { try await Task.sleep(for: .milliseconds(100)) }
            guard case .down = reads.condition else {
                Issue.record("the standby was taken as answering: \(reads.condition)")
                return
            }
            #expect(try await client.call(.post, "/vibration-diagnosis", json: #"{"machine_name": "m1", "fault_type": 1}"#).status == .created)
            #expect(try await Self.latestMachines(client) == ["m1"])
            #expect(try await client.call(.get, "/vibration-diagnosis").items.count == 1)
            let health = try await client.call(.get, "/health")
            #expect((health["standby"] as? [String: Any])?["state"] as? String == "down")
            let board = try await client.call(.get, "/", headers: [.accept: "text/html"])
            #expect(board.status == .ok && !board.text.contains("standby-notice"))
        }
    }

    @Test(
        "reads come from the standby and catch up with writes; a standby that stops replaying is shown as behind, and catches up again",
        .enabled(if: Backend.standbyURL != nil, "HIMMES_TEST_STANDBY_URL is not set: no standby to read from"), .timeLimit(.minutes(10)))
    func standbyStreaming() async throws {
        let location = try Backend.freshPostgresLocation()
        let primary = try await PostgresStore.connect(location, maximumConnections: 4, logger: Self.logger)
        primary.start()
        defer { primary.close() }
        var standbyLocation = try PostgresLocation(url: try #require(Backend.standbyURL))
        standbyLocation.schema = location.schema
        let reads = StandbyReads(primary: primary, standby: .standby(standbyLocation, logger: Self.logger), logger: Self.logger)
        let watching = Task { try await reads.run() }
        defer { watching.cancel() }
        // A session on the standby, to pause and resume its replay.
        let standbySession = try await PostgresConnection.connect(configuration: standbyLocation.connectionConfiguration(), id: 1, logger: Self.logger)
        defer { Task { try? await standbySession.close() } }
        let app = try buildApplication(store: reads, config: ServerConfig(logLevel: .error, automaticDiagnosis: false))
        try await app.test(.router) { client in
            func until(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
                let started = ContinuousClock.now
                while ContinuousClock.now - started < .seconds(seconds) {
                    if try await condition() { return true }
                    try await Task.sleep(for: .milliseconds(100))
                }
                return false
            }
            #expect(try await until(30) { (reads.lag ?? 99) < 2 })
            #expect(try await client.call(.post, "/vibration-diagnosis", json: #"{"machine_name": "m1", "fault_type": 1}"#).status == .created)
            #expect(try await until(30) { try await Self.latestMachines(client) == ["m1"] })
            let health = try await client.call(.get, "/health")
            #expect((health["standby"] as? [String: Any])?["state"] as? String == "streaming")

            // Replay paused: a write on the primary does not reach the reads, and the pages say how far behind they are.
            try await standbySession.query("SELECT pg_wal_replay_pause()", logger: Self.logger)
            do {
                #expect(try await client.call(.post, "/vibration-diagnosis", json: #"{"machine_name": "m2", "fault_type": 2}"#).status == .created)
                #expect(try await until(30) { (reads.lag ?? 0) > StandbyReads.noticeableLag })
                #expect(try await Self.latestMachines(client) == ["m1"])
                let lagging = try await client.call(.get, "/health")
                #expect(((lagging["standby"] as? [String: Any])?["lag_seconds"] as? Double ?? 0) > 5)
                let board = try await client.call(.get, "/", headers: [.accept: "text/html"])
                #expect(board.text.contains("standby-notice") && board.text.contains("s behind"))
            } catch {
                Issue.record(error)
            }
            try await standbySession.query("SELECT pg_wal_replay_resume()", logger: Self.logger)
            #expect(try await until(30) { try await Self.latestMachines(client) == ["m1", "m2"] })
            #expect(try await until(30) { (reads.lag ?? 99) < 2 })
            let board = try await client.call(.get, "/", headers: [.accept: "text/html"])
            #expect(!board.text.contains("standby-notice"))
        }
    }

}

@Suite("Standby log positions")
struct LogPositionTests {
    @Test("PostgreSQL's log positions read as numbers in their order; anything else as zero")
    func positions() {
        #expect(PostgresStore.lsn("0/0") == 0)
        #expect(PostgresStore.lsn("16/B374D848") == 0x16_B374_D848)
        #expect(PostgresStore.lsn("1/0") > PostgresStore.lsn("0/FFFFFFFF"))
        #expect(PostgresStore.lsn("") == 0 && PostgresStore.lsn("x/1") == 0)
    }
}
