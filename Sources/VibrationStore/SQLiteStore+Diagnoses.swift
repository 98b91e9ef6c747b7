import CSQLiteSettings
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization
import VibrationCore

extension SQLiteStore {
    static func storedDiagnosis(_ row: Row) throws -> StoredDiagnosis {
        let code: Int = row[3]
        return StoredDiagnosis(
            id: row[0],
            diagnosis: Diagnosis(
                machineName: row[1], detectedAt: Timestamp(microseconds: row[2]),
                faultType: try Validation.faultType(code)))
    }

    public func insert(_ diagnosis: Diagnosis) async throws -> StoredDiagnosis {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type) VALUES (?, ?, ?)",
                arguments: [diagnosis.machineName, diagnosis.detectedAt.microseconds, diagnosis.faultType.rawValue])
            return StoredDiagnosis(id: db.lastInsertedRowID, diagnosis: diagnosis)
        }
    }

    public func insert(_ diagnoses: [Diagnosis]) async throws -> Int {
        try await pool.write { db in
            let statement = try db.cachedStatement(
                sql: "INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type) VALUES (?, ?, ?)")
            for d in diagnoses {
                try statement.execute(arguments: [d.machineName, d.detectedAt.microseconds, d.faultType.rawValue])
            }
            return diagnoses.count
        }
    }

    public func diagnosis(id: Int64) async throws -> StoredDiagnosis? {
        try await quickRead { db in
            try Row.fetchOne(
                db, sql: "SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis WHERE id = ?",
                arguments: [id]
            ).map(Self.storedDiagnosis)
        }
    }

    public func diagnoses(matching filter: DiagnosisFilter, after cursor: DiagnosisCursor?, limit: Int) async throws
        -> [StoredDiagnosis]
    {
        let terms = filter.predicate(after: cursor).sqlite()
        let arguments = terms.arguments + [limit]
        let sql = """
            SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis
            \(ListPredicate.whereClause(terms.conditions))
            ORDER BY detected_at \(filter.order.sql.keyword), id \(filter.order.sql.keyword) LIMIT ?
            """
        let bound = arguments
        return try await quickRead(short: limit <= 1_000) { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map(Self.storedDiagnosis)
        }
    }

    /// The newest diagnosis of each machine: one more index probe per machine.
    static let latestDiagnosesSQL = StoreSQL.diagnosedMachines + """
        SELECT d.id, d.machine_name, d.detected_at, d.fault_type
        FROM machine JOIN vibration_diagnosis d ON d.id = (
            SELECT id FROM vibration_diagnosis WHERE machine_name = machine.name
            ORDER BY detected_at DESC, id DESC LIMIT 1)
        WHERE machine.name IS NOT NULL
        ORDER BY d.machine_name
        """

    static let latestDiagnosisOfMachineSQL = """
        SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis
        WHERE machine_name = ? ORDER BY detected_at DESC, id DESC LIMIT 1
        """

    public func latestDiagnoses(machineName: String?) async throws -> [StoredDiagnosis] {
        try await quickRead { db in
            if let machineName {
                return try Row.fetchAll(db, sql: Self.latestDiagnosisOfMachineSQL, arguments: [machineName])
                    .map(Self.storedDiagnosis)
            }
            return try Row.fetchAll(db, sql: Self.latestDiagnosesSQL).map(Self.storedDiagnosis)
        }
    }

    public func faultTypeCounts(machineName: String?, from: Timestamp?, to: Timestamp?) async throws
        -> [(machineName: String, faultType: FaultType, count: Int)]
    {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT machine_name, fault_type, count(*) FROM vibration_diagnosis
                    WHERE (? IS NULL OR machine_name = ?) AND detected_at BETWEEN ? AND ?
                    GROUP BY machine_name, fault_type ORDER BY machine_name, fault_type
                    """,
                arguments: [
                    machineName, machineName, (from ?? .earliest).microseconds, (to ?? .latest).microseconds,
                ]
            ).compactMap { row in
                FaultType(rawValue: row[1]).map { (machineName: row[0], faultType: $0, count: row[2]) }
            }
        }
    }
}
