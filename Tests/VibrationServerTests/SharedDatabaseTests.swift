import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import StoreTestSupport
import Synchronization
import Testing
import VibrationCore
import VibrationPipeline

@testable import VibrationServer
@testable import VibrationStore

/// Two servers on one PostgreSQL schema, as behind a load balancer: what one stores, the other's
/// cached answers and open pages learn.
@Suite("Servers sharing a database", .enabled(if: Backend.hasPostgres, "HIMMES_TEST_POSTGRES_URL is not set: no PostgreSQL server to test"))
struct SharedDatabaseTests {
    // The limit catches a hang, not slowness: beside the rest of the suite on two cores, making the
    // fresh schema alone has taken most of a minute.
    @Test("a diagnosis stored through one server shows in the other's cached latest diagnoses and on its live pages", .timeLimit(.minutes(10)))
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
        config.eventStreamLifetime = .seconds(10)
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

    @Test(
        "engines of three servers share the machines, a stopped one's machines move to the others, and the verdicts and alarms are those of one engine",
        .timeLimit(.minutes(10)))
    func enginesShareTheWork() async throws {
        let location = try Backend.freshPostgresLocation()
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        var stores: [PostgresStore] = []
        for _ in 0..<3 {
            let store = try await PostgresStore.connect(location, maximumConnections: 4, logger: logger)
            store.start()
            stores.append(store)
        }
        let oracle = try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("oracle.sqlite").path, logger: logger)
        oracle.start()
        defer {
            for store in stores { store.close() }
            oracle.close()
        }
        let plant = DemoStream(url: "", sensors: 1, historySeconds: 0, logger: logger)
        try await plant.register(in: stores[0])
        try await plant.register(in: oracle)
        let start = Timestamp(microseconds: 1_700_000_000_000_000)
        func load(_ seconds: Range<Int>) async throws {
            for second in seconds {
                let csv = plant.csv(second: second, start: start)
                _ = try await SampleImporter(store: stores[second % 3]).importCSV(DemoStream.Once(bytes: csv), layout: .product)
                _ = try await SampleImporter(store: oracle).importCSV(DemoStream.Once(bytes: csv), layout: .product)
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let engines = (1...3).map { i in
            var options = DiagnosisService.Options()
            options.holder = "server-\(i)"
            return DiagnosisService(store: stores[i - 1], options: options, logger: logger)
        }
        // Each server's engine runs round after round until it is stopped (as if its process died:
        // it neither finishes a round nor gives its machines up).
        let watch = EngineWatch()
        try await withThrowingTaskGroup { group in
            for (i, engine) in engines.enumerated() {
                group.addTask {
                    while !watch.stopped.withLock({ $0[i] }) {
                        let run = try await engine.run()
                        watch.mostHeld.withLock { $0[i] = max($0[i], run.machinesHeld ?? 0) }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
            try await load(0..<15)
            // A server takes its share once the others have seen it and given theirs up, a round or
            // two each: on a loaded machine that can outlast the load, so wait for it (a while).
            let loaded = ContinuousClock.now
            while watch.mostHeld.withLock({ $0.contains(0) }) && ContinuousClock.now - loaded < .seconds(60) {
                try await Task.sleep(for: .milliseconds(200))
            }
            watch.stopped.withLock { $0[2] = true }
            try await load(15..<30)
            // Past the stopped server's liveness (5 s), the two others hold every machine.
            let stoppedAt = ContinuousClock.now
            var holders: [(holder: String, machines: Int)] = []
            repeat {
                try await Task.sleep(for: .milliseconds(500))
                holders = try await stores[0].engineHolders(liveness: .seconds(5))
            } while (holders.map(\.machines).reduce(0, +) < DemoStream.machines.count || holders.count > 2)
                && ContinuousClock.now - stoppedAt < .seconds(60)
            #expect(holders.map(\.holder) == ["server-1", "server-2"])
            #expect(holders.map(\.machines).reduce(0, +) == DemoStream.machines.count)
            watch.stopped.withLock { $0 = [true, true, true] }
            try await group.waitForAll()
        }
        // Every server held machines while all three ran.
        #expect(watch.mostHeld.withLock { $0 }.allSatisfy { $0 > 0 })
        for engine in engines.prefix(2) { _ = try await engine.run() }
        _ = try await DiagnosisService(store: oracle, logger: logger).run()
        func verdicts(_ store: some Store) async throws -> [String] {
            try await store.diagnoses(matching: DiagnosisFilter(), after: nil, limit: Int.max)
                .map { "\($0.diagnosis.machineName) \($0.diagnosis.detectedAt.microseconds) \($0.diagnosis.faultType.rawValue)" }.sorted()
        }
        func alarms(_ store: some Store) async throws -> [String] {
            try await store.alarms(openOnly: false, machineName: nil, limit: 1_000)
                .map { "\($0.machineName) \($0.faultType.rawValue) \($0.openedAt.microseconds) \($0.closedAt?.microseconds ?? 0)" }.sorted()
        }
        let expected = try await verdicts(oracle)
        // Every second of every machine, the last one too (its recording ends with it).
        #expect(expected.count == DemoStream.machines.count * 30)
        #expect(try await verdicts(stores[1]) == expected)
        let expectedAlarms = try await alarms(oracle)
        #expect(!expectedAlarms.isEmpty)
        #expect(try await alarms(stores[1]) == expectedAlarms)
    }
}

/// Which of three engines are stopped, and the most machines each held in a round.
final class EngineWatch: Sendable {
    let stopped = Mutex([false, false, false])
    let mostHeld = Mutex([0, 0, 0])
}
