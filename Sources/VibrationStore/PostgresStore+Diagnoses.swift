import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import VibrationCore

extension PostgresStore {
    typealias DiagnosisRow = (Int64, String, Timestamp, Int)

    static func storedDiagnosis(_ r: DiagnosisRow) throws -> StoredDiagnosis {
        StoredDiagnosis(
            id: r.0, diagnosis: Diagnosis(machineName: r.1, detectedAt: r.2, faultType: try Validation.faultType(r.3)))
    }

    public func insert(_ diagnosis: Diagnosis) async throws -> StoredDiagnosis {
        let id = try await one(
            """
            INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type)
            VALUES (\(diagnosis.machineName), \(diagnosis.detectedAt), \(diagnosis.faultType.rawValue)) RETURNING id
            """, Int64.self)
        guard let id else { throw PostgresStoreError.unexpected("INSERT returned no id") }
        return StoredDiagnosis(id: id, diagnosis: diagnosis)
    }

    public func insert(_ diagnoses: [Diagnosis]) async throws -> Int {
        guard !diagnoses.isEmpty else { return 0 }
        try await query(
            """
            INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type)
            SELECT * FROM unnest(\(diagnoses.map(\.machineName))::text[], \(diagnoses.map(\.detectedAt))::timestamptz[],
                                 \(diagnoses.map(\.faultType.rawValue))::integer[])
            """)
        return diagnoses.count
    }

    public func diagnosis(id: Int64) async throws -> StoredDiagnosis? {
        try await all(
            "SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis WHERE id = \(id)", DiagnosisRow.self
        ).first.map(Self.storedDiagnosis)
    }

    public func diagnoses(matching filter: DiagnosisFilter, after cursor: DiagnosisCursor?, limit: Int) async throws
        -> [StoredDiagnosis]
    {
        var binds = PostgresBindings()
        func bind<V: PostgresNonThrowingEncodable & Sendable>(_ value: V) -> String { binds.placeholder(value) }
        let conditions = filter.predicate(after: cursor).postgres(binds: &binds)
        let keyword = filter.order.sql.keyword
        let sql = """
            SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis
            \(ListPredicate.whereClause(conditions))
            ORDER BY detected_at \(keyword), id \(keyword) LIMIT \(bind(limit))
            """
        return try await all(PostgresQuery(unsafeSQL: sql, binds: binds), DiagnosisRow.self).map(Self.storedDiagnosis)
    }

    /// The newest diagnosis of each machine. As a LATERAL join, PostgreSQL probes the index once
    /// per machine whatever its statistics say (joined on a subquery's id, the planner may scan the
    /// table instead while the diagnoses are not yet analysed).
    static let latestDiagnosesSQL = StoreSQL.diagnosedMachines + """
        SELECT d.id, d.machine_name, d.detected_at, d.fault_type
        FROM machine CROSS JOIN LATERAL (
            SELECT * FROM vibration_diagnosis WHERE machine_name = machine.name ORDER BY detected_at DESC, id DESC LIMIT 1) AS d
        WHERE machine.name IS NOT NULL
        ORDER BY d.machine_name
        """

    public func faultTypeCounts(machineName: String?, from: Timestamp?, to: Timestamp?) async throws
        -> [(machineName: String, faultType: FaultType, count: Int)]
    {
        try await all(
            """
            SELECT machine_name, fault_type::int, count(*)::bigint FROM vibration_diagnosis
            WHERE (\(machineName)::text IS NULL OR machine_name = \(machineName))
              AND detected_at BETWEEN \(from ?? .earliest) AND \(to ?? .latest)
            GROUP BY machine_name, fault_type ORDER BY machine_name, fault_type
            """, (String, Int, Int64).self
        ).compactMap { name, code, count in FaultType(rawValue: code).map { (machineName: name, faultType: $0, count: Int(count)) } }
    }

    public func latestDiagnoses(machineName: String?) async throws -> [StoredDiagnosis] {
        let query: PostgresQuery =
            if let machineName {
                """
                SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis
                WHERE machine_name = \(machineName) ORDER BY detected_at DESC, id DESC LIMIT 1
                """
            } else {
                PostgresQuery(unsafeSQL: Self.latestDiagnosesSQL)
            }
        return try await all(query, DiagnosisRow.self).map(Self.storedDiagnosis)
    }
}
