import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import StoreTestSupport
import Testing
import VibrationCore

@testable import VibrationServer
@testable import VibrationStore

/// Two servers on one PostgreSQL schema, as behind a load balancer: what one stores, the other's
/// cached answers and open pages learn.
@Suite("Servers sharing a database", .enabled(if: Backend.hasPostgres, "HIMMES_TEST_POSTGRES_URL is not set: no PostgreSQL server to test"))
struct SharedDatabaseTests {
    @Test("a diagnosis stored through one server shows in the other's cached latest diagnoses and on its live pages", .timeLimit(.minutes(1)))
    func changesReachTheOtherServer() async throws {
        let location = try Backend.freshPostgresLocation()
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let first = try await PostgresStore.connect(location, maximumConnections: 4, logger: logger)
        let second = try await PostgresStore.connect(location, maximumConnections: 4, logger: logger)
        first.start()
        second.start()
        defer {
            first.close()
            second.close()
        }
        var config = ServerConfig(logLevel: .error, automaticDiagnosis: false)
        config.eventStreamLifetime = .seconds(3)
        let one = try buildApplication(store: first, config: config)
        let other = try buildApplication(store: second, config: config)
        try await one.test(.router) { one in
            try await other.test(.router) { other in
                // The other server answers, and keeps, an empty list.
                #expect(try await other.call(.get, "/vibration-diagnosis/latest").items.isEmpty)
                #expect(try await other.call(.get, "/vibration-diagnosis/latest").items.isEmpty)
                // A page open on the other server while the first one stores a diagnosis.
                async let page = other.execute(uri: "/events", method: .get) { String(buffer: $0.body) }
                try await Task.sleep(for: .milliseconds(500))
                let stored = try await one.call(.post, "/vibration-diagnosis", json: #"{"machine_name": "fan-3", "fault_type": 2}"#)
                #expect(stored.status == .created)
                let started = ContinuousClock.now
                var latest: [[String: Any]] = []
                while latest.isEmpty, ContinuousClock.now - started < .seconds(10) {
                    latest = try await other.call(.get, "/vibration-diagnosis/latest").items
                    if latest.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(latest.first?["machine_name"] as? String == "fan-3")
                #expect(latest.first?["fault_type"] as? Int == 2)
                Logger(label: "test").info("seen on the other server after \(ContinuousClock.now - started)")
                #expect(try await page.contains("event: diagnosis"))
            }
        }
    }

    @Test("notices name their schema; others' schemas and unknown kinds are not changes of this one")
    func noticePayloads() {
        #expect(PostgresStore.change(in: "t_1_abc:diagnosis")! == ("t_1_abc", .diagnosis))
        #expect(PostgresStore.change(in: "public:data")! == ("public", .data))
        #expect(PostgresStore.change(in: "public:machines") == nil)
        #expect(PostgresStore.change(in: "nothing") == nil)
    }
}
