import GRDB
import VibrationCore

extension SQLiteStore {
    static func alarm(_ row: Row) -> Alarm {
        Alarm(
            id: row["id"], machineName: row["machine_name"], faultType: FaultType(rawValue: row["fault_type"]) ?? .normal,
            severityZone: (row["severity_zone"] as String?).flatMap(ISO10816.Zone.init(rawValue:)), message: row["message"],
            openedAt: Timestamp(microseconds: row["opened_at"]),
            closedAt: (row["closed_at"] as Int64?).map(Timestamp.init(microseconds:)),
            acknowledgedAt: (row["acknowledged_at"] as Int64?).map(Timestamp.init(microseconds:)),
            acknowledgedBy: row["acknowledged_by"])
    }

    public func alarms(openOnly: Bool, machineName: String?, limit: Int) async throws -> [Alarm] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if openOnly { conditions.append("closed_at IS NULL") }
        if let machineName {
            conditions.append("machine_name = ?")
            arguments += [machineName]
        }
        arguments += [limit]
        let sql = "SELECT * FROM alarms" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY opened_at DESC, id DESC LIMIT ?"
        let bound = arguments
        return try await quickRead { db in try Row.fetchAll(db, sql: sql, arguments: bound).map(Self.alarm) }
    }

    public func acknowledgeAlarm(id: Int64, by: String?) async throws -> Alarm? {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE alarms SET acknowledged_at = coalesce(acknowledged_at, ?), acknowledged_by = coalesce(acknowledged_by, ?) WHERE id = ?",
                arguments: [Timestamp.now.microseconds, by, id])
            return try Row.fetchOne(db, sql: "SELECT * FROM alarms WHERE id = ?", arguments: [id]).map(Self.alarm)
        }
    }
}
