import CSQLiteSettings
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization
import VibrationCore

extension SQLiteStore {
    public func machines() async throws -> [MachineSummary] {
        try await pool.read { db in try Self.machines(db, named: nil) }
    }

    public func machine(named name: String) async throws -> MachineSummary? {
        try await quickRead { db in try Self.machines(db, named: name).first }
    }

    static func machines(_ db: Database, named name: String?) throws -> [MachineSummary] {
        let sensors = try Row.fetchAll(
            db,
            sql: "SELECT id, machine_name, sensor_no FROM sensors"
                + (name == nil ? "" : " WHERE machine_name = ?") + " ORDER BY machine_name, sensor_no",
            arguments: name.map { [$0] } ?? [])
        // Three statements per sensor, each prepared once per connection rather than once per sensor.
        let countStatement = try db.cachedStatement(sql: "SELECT sum(n) FROM waveform_summary WHERE sensor_id = ? AND level = ?")
        let firstStatement = try db.cachedStatement(sql: "SELECT min(collected_at) FROM vibration_samples WHERE sensor_id = ?")
        let lastStatement = try db.cachedStatement(sql: "SELECT max(collected_at) FROM vibration_samples WHERE sensor_id = ?")
        let figures = try sensors.map { sensor in
            let id: Int64 = sensor[0]
            // The count from the coarsest level of the waveform summary (one row per 100 s of data)
            // rather than the samples; min and max each stay a single index probe.
            let count = try Int64.fetchOne(countStatement, arguments: [id, WaveformSummary.levels.count - 1]) ?? 0
            let first = try Int64.fetchOne(firstStatement, arguments: [id])
            let last = try Int64.fetchOne(lastStatement, arguments: [id])
            return SensorFigures(
                machineName: sensor[1], sensorNo: sensor[2], count: count, first: first.map(Timestamp.init(microseconds:)),
                last: last.map(Timestamp.init(microseconds:)))
        }
        let latestRows =
            try name.map { try Row.fetchAll(db, sql: Self.latestDiagnosisOfMachineSQL, arguments: [$0]) }
            ?? Row.fetchAll(db, sql: Self.latestDiagnosesSQL)
        return MachineSummary.assemble(sensors: figures, latest: try latestRows.map(Self.storedDiagnosis))
    }

    public func diagnosisRuns(machineName: String?, from: Timestamp, to: Timestamp, slots: Int) async throws -> [DiagnosisRun] {
        try await pool.read { db in
            let machines =
                try machineName.map { [$0] }
                ?? String.fetchAll(db, sql: "SELECT DISTINCT machine_name FROM vibration_diagnosis ORDER BY machine_name")
            // Each machine's diagnoses of the range come in time order from the covering index, so
            // slots and bands are built in one pass, stepping the statement through the C API.
            let statement = try db.cachedStatement(
                sql: """
                    SELECT detected_at, fault_type, id FROM vibration_diagnosis
                    WHERE machine_name = ? AND detected_at BETWEEN ? AND ? ORDER BY detected_at
                    """)
            var builder = DiagnosisRunBuilder(from: from, to: to, slots: slots)
            for machine in machines {
                try Self.forEachRow(of: statement, db, arguments: [machine, from.microseconds, to.microseconds]) { stmt in
                    builder.add(
                        machine: machine, at: sqlite3_column_int64(stmt, 0),
                        faultType: FaultType(rawValue: Int(sqlite3_column_int64(stmt, 1))) ?? .normal, id: sqlite3_column_int64(stmt, 2))
                }
                builder.finishSlot()
            }
            return builder.runs
        }
    }
}
