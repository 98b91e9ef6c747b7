import Foundation
import GRDB
import Testing
import VibrationCore

@testable import VibrationStore

@Suite("SQLite schema")
struct SQLiteSchemaTests {
    func makeStore() throws -> SQLiteStore {
        try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("schema.sqlite").path)
    }

    @Test("the original tables keep every original column")
    func originalColumns() throws {
        let store = try makeStore()
        try store.pool.read { db in
            let data = try db.columns(in: "vibration_data").map(\.name)
            #expect(data == ["id", "machine_name", "sensor_no", "collected_at", "measured_time", "normal", "unbalance", "looseness", "unbalance_looseness"])
            let diagnosis = try db.columns(in: "vibration_diagnosis").map(\.name)
            #expect(diagnosis == ["id", "machine_name", "detected_at", "fault_type"])
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
        }
    }

    @Test("tools written for the original schema can insert into vibration_data, and the identity stays unique")
    func viewInsert() throws {
        let store = try makeStore()
        try store.pool.write { db in
            try db.execute(sql: """
                INSERT INTO vibration_data (machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
                VALUES ('g1', 'sensor1', 1735689600000000, 0.5, 1, 2, 3, 4)
                """)
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: """
                    INSERT INTO vibration_data (machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
                    VALUES ('g1', 'sensor1', 1735689600000000, 0.5, 9, 9, 9, 9)
                    """)
            }
            // Without collected_at, the row is stamped with the current time.
            try db.execute(sql: """
                INSERT INTO vibration_data (machine_name, sensor_no, measured_time, normal, unbalance, looseness, unbalance_looseness)
                VALUES ('g1', 'sensor1', 0.5, 1, 2, 3, 4)
                """)
            let stamped = try Int64.fetchOne(db, sql: "SELECT max(collected_at) FROM vibration_data") ?? 0
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            #expect(abs(stamped - now) < 60_000_000)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM vibration_data") == 2)
        }
    }

    @Test("fault_type outside 0...3 and over-long names are refused by the database itself")
    func constraints() throws {
        let store = try makeStore()
        try store.pool.write { db in
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type) VALUES ('g1', 0, 4)")
            }
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type) VALUES (?, 0, 1)", arguments: [String(repeating: "x", count: 51)])
            }
        }
    }

    @Test("latest-per-machine walks the index instead of scanning the table")
    func latestUsesIndex() throws {
        let store = try makeStore()
        let plan = try store.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SQLiteStore.latestDiagnosesSQL).map { $0["detail"] as String }
        }
        #expect(!plan.contains { $0.hasPrefix("SCAN vibration_diagnosis") && !$0.contains("INDEX") })
        #expect(plan.contains { $0.contains("vibration_diagnosis_machine_time_type") })
    }

    @Test("reopening a migrated database changes nothing")
    func reopen() throws {
        let path = try TemporaryDirectory.make().appendingPathComponent("again.sqlite").path
        _ = try SQLiteStore(path: path)
        let again = try SQLiteStore(path: path)
        #expect(try again.migrations().allSatisfy(\.applied))
    }

    @Test("the WAL reaches the database file without the writer checkpointing")
    func backgroundCheckpoint() async throws {
        let directory = try TemporaryDirectory.make()
        let path = directory.appendingPathComponent("wal.sqlite").path
        let store = try SQLiteStore(path: path)
        store.start()
        // Fewer frames than the writer's automatic checkpoint waits for (1,000 pages).
        for i in 0..<100 {
            _ = try await store.insert(
                VibrationSample(
                    machineName: "fan", sensorNo: "s1", collectedAt: Timestamp(microseconds: 1_740_000_000_000_000),
                    measuredTime: Double(i) / 1_000, normal: 1, unbalance: 2, looseness: 3, unbalanceLooseness: 4))
        }
        // The database file alone (a copy without its WAL) holds the rows once the checkpointer has run.
        var copied = 0
        for _ in 0..<50 where copied < 100 {
            try await Task.sleep(for: .milliseconds(100))
            let copy = directory.appendingPathComponent("copy-\(UUID().uuidString).sqlite").path
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            // Before the first checkpoint the file does not even hold the tables.
            copied = (try? await DatabaseQueue(path: copy).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM vibration_samples") }) ?? 0
        }
        #expect(copied == 100)
        store.close()
    }
}
