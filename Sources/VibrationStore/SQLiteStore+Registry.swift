import GRDB
import VibrationCore

extension SQLiteStore {
    static let statusColumns = """
        machine_name, line, rpm, iso_group, foundation, channel, baseline_1x, baseline_harmonics,
        state, state_zone, state_since, pending_state, pending_count, last_window_at
        """

    /// A registry row read with `statusColumns`, by position (a name lookup per column was most of
    /// the work of reading a plant's registry).
    static func machineStatus(_ row: Row) -> MachineStatus {
        let baseline: HealthyBaseline? = {
            guard let oneX = row[6] as Double?, let harmonics = row[7] as Double? else { return nil }
            return HealthyBaseline(oneX: oneX, harmonics: harmonics)
        }()
        let config = MachineConfig(
            machineName: row[0], line: row[1], rpm: row[2],
            isoGroup: ISO10816.MachineGroup(rawValue: row[3]) ?? .medium,
            foundation: ISO10816.Foundation(rawValue: row[4]) ?? .rigid,
            channel: SignalChannel(rawValue: row[5]) ?? .normal, baseline: baseline)
        let state = MachineState(
            faultType: FaultType(rawValue: row[8]) ?? .normal,
            zone: (row[9] as String?).flatMap(ISO10816.Zone.init(rawValue:)),
            since: (row[10] as Int64?).map(Timestamp.init(microseconds:)),
            pending: (row[11] as Int?).flatMap(FaultType.init(rawValue:)),
            pendingCount: row[12],
            lastWindowAt: (row[13] as Int64?).map(Timestamp.init(microseconds:)))
        return MachineStatus(config: config, state: state)
    }

    public func machineStatus(named name: String) async throws -> MachineStatus? {
        try await readRegistry { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.statusColumns) FROM machines WHERE machine_name = ?"), arguments: [name])
                .map(Self.machineStatus)
        }
    }

    public func machineStatuses() async throws -> [MachineStatus] {
        try await readRegistry { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT \(Self.statusColumns) FROM machines ORDER BY machine_name")).map(Self.machineStatus)
        }
    }

    /// A read of the registry with the machines first seen in the data registered first. The check
    /// is part of the read, and the writer is taken only when there is a machine to add, so that
    /// readers of the registry neither queue behind uploads nor wait twice for a connection.
    func readRegistry<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let done: T? = try await pool.read { db in try Self.machinesMissing(db) ? nil : body(db) }
        if let done { return done }
        try await pool.write { db in try Self.registerSeenMachines(db) }
        return try await pool.read(body)
    }

    static func machinesMissing(_ db: Database) throws -> Bool {
        let statement = try db.cachedStatement(
            sql: """
                SELECT EXISTS (SELECT 1 FROM sensors s WHERE NOT EXISTS (SELECT 1 FROM machines m WHERE m.machine_name = s.machine_name))
                    OR EXISTS (SELECT 1 FROM vibration_diagnosis d
                               WHERE d.id > (SELECT coalesce(max(id), 0) - 1000 FROM vibration_diagnosis)
                               AND NOT EXISTS (SELECT 1 FROM machines m WHERE m.machine_name = d.machine_name))
                """)
        return try Bool.fetchOne(statement) ?? false
    }

    public func save(_ config: MachineConfig) async throws -> MachineStatus {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO machines (machine_name, line, rpm, iso_group, foundation, channel, baseline_1x, baseline_harmonics)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (machine_name) DO UPDATE SET
                        line = excluded.line, rpm = excluded.rpm, iso_group = excluded.iso_group,
                        foundation = excluded.foundation, channel = excluded.channel,
                        baseline_1x = excluded.baseline_1x, baseline_harmonics = excluded.baseline_harmonics
                    """,
                arguments: [
                    config.machineName, config.line, config.rpm, config.isoGroup.rawValue, config.foundation.rawValue,
                    config.channel.rawValue, config.baseline?.oneX, config.baseline?.harmonics,
                ])
            return try Row.fetchOne(
                db, sql: "SELECT \(Self.statusColumns) FROM machines WHERE machine_name = ?", arguments: [config.machineName]
            ).map(Self.machineStatus)!
        }
    }

    /// Machines first seen in samples or diagnoses get a registry entry with the defaults.
    static func registerSeenMachines(_ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO machines (machine_name)
                SELECT name FROM (SELECT machine_name AS name FROM sensors UNION SELECT machine_name FROM vibration_diagnosis)
                WHERE true
                ON CONFLICT DO NOTHING
                """)
    }
}
