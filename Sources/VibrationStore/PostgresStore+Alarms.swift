import PostgresNIO
import VibrationCore

extension PostgresStore {
    static let alarmColumns = "id, machine_name, fault_type, severity_zone, message, opened_at, closed_at, acknowledged_at, acknowledged_by"
    typealias AlarmRow = (Int64, String, Int, String?, String, Timestamp, Timestamp?, Timestamp?, String?)

    static func alarm(_ r: AlarmRow) -> Alarm {
        Alarm(
            id: r.0, machineName: r.1, faultType: FaultType(rawValue: r.2) ?? .normal, severityZone: r.3.flatMap(ISO10816.Zone.init(rawValue:)),
            message: r.4, openedAt: r.5, closedAt: r.6, acknowledgedAt: r.7, acknowledgedBy: r.8)
    }

    public func alarms(openOnly: Bool, machineName: String?, limit: Int) async throws -> [Alarm] {
        try await all(
            """
            SELECT \(unescaped: Self.alarmColumns) FROM alarms
            WHERE (NOT \(openOnly) OR closed_at IS NULL) AND (\(machineName)::text IS NULL OR machine_name = \(machineName))
            ORDER BY opened_at DESC, id DESC LIMIT \(limit)
            """, AlarmRow.self
        ).map(Self.alarm)
    }

    public func acknowledgeAlarm(id: Int64, by: String?) async throws -> Alarm? {
        try await all(
            """
            UPDATE alarms SET acknowledged_at = coalesce(acknowledged_at, \(Timestamp.now)),
                              acknowledged_by = coalesce(acknowledged_by, \(by))
            WHERE id = \(id) RETURNING \(unescaped: Self.alarmColumns)
            """, AlarmRow.self
        ).first.map(Self.alarm)
    }
}
