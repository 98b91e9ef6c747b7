import PostgresNIO
import VibrationCore

extension PostgresStore {
    static let statusColumns = """
        machine_name, line, rpm, iso_group, foundation, channel, baseline_1x, baseline_harmonics,
        state, state_zone, state_since, pending_state, pending_count, last_window_at
        """
    typealias StatusRow = (
        String, String?, Double?, Int, String, String, Double?, Double?, Int, String?, Timestamp?, Int?, Int, Timestamp?
    )

    static func machineStatus(_ r: StatusRow) -> MachineStatus {
        let baseline = r.6.flatMap { oneX in r.7.map { HealthyBaseline(oneX: oneX, harmonics: $0) } }
        let config = MachineConfig(
            machineName: r.0, line: r.1, rpm: r.2, isoGroup: ISO10816.MachineGroup(rawValue: r.3) ?? .medium,
            foundation: ISO10816.Foundation(rawValue: r.4) ?? .rigid, channel: SignalChannel(rawValue: r.5) ?? .normal,
            baseline: baseline)
        let state = MachineState(
            faultType: FaultType(rawValue: r.8) ?? .normal, zone: r.9.flatMap(ISO10816.Zone.init(rawValue:)), since: r.10,
            pending: r.11.flatMap(FaultType.init(rawValue:)), pendingCount: r.12, lastWindowAt: r.13)
        return MachineStatus(config: config, state: state)
    }

    public func machineStatus(named name: String) async throws -> MachineStatus? {
        try await registerSeenMachines()
        return try await all("SELECT \(unescaped: Self.statusColumns) FROM machines WHERE machine_name = \(name)", StatusRow.self)
            .first.map(Self.machineStatus)
    }

    public func machineStatuses() async throws -> [MachineStatus] {
        try await registerSeenMachines()
        return try await all("SELECT \(unescaped: Self.statusColumns) FROM machines ORDER BY machine_name", StatusRow.self)
            .map(Self.machineStatus)
    }

    /// Machines first seen in samples or diagnoses get a registry entry with the defaults; the
    /// check is a read, so that readers of the registry do not write when there is nothing to add.
    func registerSeenMachines() async throws {
        let missing =
            try await one(
                """
                SELECT EXISTS (SELECT 1 FROM sensors s WHERE NOT EXISTS (SELECT 1 FROM machines m WHERE m.machine_name = s.machine_name))
                    OR EXISTS (SELECT 1 FROM vibration_diagnosis d
                               WHERE d.id > (SELECT coalesce(max(id), 0) - 1000 FROM vibration_diagnosis)
                               AND NOT EXISTS (SELECT 1 FROM machines m WHERE m.machine_name = d.machine_name))
                """, Bool.self) ?? false
        guard missing else { return }
        try await query(
            """
            INSERT INTO machines (machine_name)
            SELECT machine_name FROM sensors UNION SELECT DISTINCT machine_name FROM vibration_diagnosis
            ON CONFLICT DO NOTHING
            """)
    }

    public func save(_ config: MachineConfig) async throws -> MachineStatus {
        let rows = try await all(
            """
            INSERT INTO machines (machine_name, line, rpm, iso_group, foundation, channel, baseline_1x, baseline_harmonics)
            VALUES (\(config.machineName), \(config.line), \(config.rpm), \(config.isoGroup.rawValue), \(config.foundation.rawValue),
                    \(config.channel.rawValue), \(config.baseline?.oneX), \(config.baseline?.harmonics))
            ON CONFLICT (machine_name) DO UPDATE SET
                line = excluded.line, rpm = excluded.rpm, iso_group = excluded.iso_group,
                foundation = excluded.foundation, channel = excluded.channel,
                baseline_1x = excluded.baseline_1x, baseline_harmonics = excluded.baseline_harmonics
            RETURNING \(unescaped: Self.statusColumns)
            """, StatusRow.self)
        guard let row = rows.first else { throw PostgresStoreError.unexpected("the machine row of \(config.machineName) vanished") }
        return Self.machineStatus(row)
    }
}
