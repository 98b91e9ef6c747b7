import Foundation
import GRDB
import GRDBSQLite
import VibrationCore

extension SQLiteStore {
    public func scan(seconds: Double, limit: Int, channels: [SignalChannel]?, machines: Set<String>?) async throws -> PendingWindows {
        let (pending, marker) = try await findWindows(seconds: seconds, limit: limit, channels: channels, machines: machines)
        try await pool.write { db in
            // Another process's engine (a `himmes diagnose` beside the server) kept its scan since
            // this one read the progress: its progress stands, and this scan's windows are still
            // diagnosed (a window recorded twice is skipped).
            let now = try Int64.fetchOne(db.cachedStatement(sql: "SELECT scanned_through_id FROM diagnosis_progress WHERE id = 1")) ?? 0
            guard now == marker else { return }
            try Self.keep(pending, db)
        }
        return pending
    }

    private func findWindows(seconds: Double, limit: Int, channels: [SignalChannel]?, machines: Set<String>?) async throws
        -> (PendingWindows, marker: Int64)
    {
        if try await pool.read(Self.machinesMissing) { try await pool.write { db in try Self.registerSeenMachines(db) } }
        // From the first scan on, the writer hands what it stores to the engine (before this read
        // begins, so that no commit after it is missed).
        let fresh = self.fresh
        fresh.enable()
        // A read: uploads keep writing while the engine looks for work.
        return try await pool.read { db in
            let marker = try Int64.fetchOne(db.cachedStatement(sql: "SELECT scanned_through_id FROM diagnosis_progress WHERE id = 1")) ?? 0
            let newest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(id) FROM vibration_samples")) ?? 0
            let upto = min(newest, marker + PendingWindows.scanRows)
            if fresh.beginScan(seconds: seconds, caughtUp: upto == newest) {
                fresh.setFloor(try Self.newestPerSensor(db))
            }
            var candidates: [AnalysisWindow] = []
            // Windows left open by earlier calls.
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT o.sensor_id, s.machine_name, s.sensor_no, o.channel, o.recording_start, o.window_index, o.window_seconds,
                               o.collected_from, o.collected_through
                        FROM diagnosis_open_windows o JOIN sensors s ON s.id = o.sensor_id
                        """))
            {
                let from: Int64? = row[7]
                let through: Int64? = row[8]
                candidates.append(
                    AnalysisWindow(
                        machineName: row[1], sensorNo: row[2], sensorID: row[0], channel: SignalChannel(rawValue: row[3]) ?? .normal,
                        recordingStart: Timestamp(microseconds: row[4]), index: row[5], seconds: row[6],
                        collectedSpan: from.flatMap { f in through.map { f...max(f, $0) } }))
            }
            var scan = WindowScan(tracker: RecordingTracker(sensors: try Self.recordings(db)), seconds: seconds)
            var monitored: [Int64: (machine: String, sensorNo: String, channel: SignalChannel)] = [:]
            if upto > marker {
                for row in try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT s.id, s.machine_name, s.sensor_no, m.channel
                            FROM sensors s JOIN machines m ON m.machine_name = s.machine_name
                            """))
                {
                    monitored[row[0]] = (row[1], row[2], SignalChannel(rawValue: row[3]) ?? .normal)
                }
                // The new rows in id order: those handed over in memory, and, for the ids between
                // them, read from the database.
                let runs = fresh.take(after: marker, through: upto)
                var scanned = marker
                for (run, gapEnd, runEnd) in runs.map({ (Optional($0), $0.firstID - 1, $0.lastID) }) + [(nil, upto, upto)] {
                    if gapEnd > scanned {
                        fresh.markForeign(try Self.place(db, after: scanned, through: gapEnd, scan: &scan))
                    }
                    if let run {
                        fresh.absorb([run], scan: &scan) { monitored[$0]?.channel }
                    }
                    scanned = max(scanned, runEnd)
                }
            }
            let recordings = scan.finish()
            candidates += scan.windows(monitored: monitored, channels: channels)
            let (ready, open) = try PendingWindows.sort(candidates, tracker: scan.tracker) { window in
                try Bool.fetchOne(
                    db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM diagnosis_evidence WHERE sensor_id = ? AND window_start = ? AND channel = ?)"),
                    arguments: [window.sensorID, window.start.microseconds, window.channel.rawValue]) ?? false
            }
            var pending = PendingWindows.split(
                ready: ready, incomplete: open, limit: limit, scannedThrough: max(marker, upto), recordings: recordings, machines: machines)
            pending.extents = scan.extents
            fresh.keepOnly(pending.open)
            return (pending, marker)
        }
    }

    /// Each sensor's open recordings, as the engine left them.
    static func recordings(_ db: Database) throws -> [Int64: [RecordingTracker.Recording]] {
        var sensors: [Int64: [RecordingTracker.Recording]] = [:]
        for row in try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT sensor_id, recording_start, sequence, spacing, covered, first_collected, last_collected, last_time
                    FROM diagnosis_recordings ORDER BY sensor_id, sequence
                    """))
        {
            sensors[row[0], default: []].append(
                RecordingTracker.Recording(
                    start: row[1], spacing: (row[3] as Double?) ?? .infinity, flatCovered: RecordingText.decode(row[4]), sequence: row[2],
                    firstCollected: row[5], lastCollected: row[6], lastTime: row[7]))
        }
        return sensors
    }

    public func samples(of window: AnalysisWindow) async throws -> (times: [Double], values: [Double]) {
        try await samples(of: [window])[0]
    }

    /// From memory where the writer handed the window's rows over, from the database otherwise
    /// (all on a reader's thread: gathering a round's rows is no work for the cooperative threads).
    public func samples(of windows: [AnalysisWindow]) async throws -> [(times: [Double], values: [Double])] {
        let fresh = self.fresh
        return try await pool.read { db in try windows.map { try fresh.samples(of: $0) ?? Self.samples(db, of: $0) } }
    }

    /// The newest collected_at of each sensor (one probe of the identity index each).
    static func newestPerSensor(_ db: Database) throws -> [Int64: Int64] {
        var newest: [Int64: Int64] = [:]
        let statement = try db.cachedStatement(sql: "SELECT max(collected_at) FROM vibration_samples WHERE sensor_id = ?")
        for sensor in try Int64.fetchAll(db, sql: "SELECT id FROM sensors") {
            if let at = try Int64.fetchOne(statement, arguments: [sensor]) { newest[sensor] = at }
        }
        return newest
    }

    /// Places each sample with an id in (after, through] in id order, and returns the newest
    /// collected_at of each sensor among them.
    static func place(_ db: Database, after: Int64, through: Int64, scan: inout WindowScan) throws -> [Int64: Int64] {
        let statement = try db.cachedStatement(
            sql: """
                SELECT sensor_id, collected_at, measured_time FROM vibration_samples
                WHERE id > ? AND id <= ? AND measured_time >= 0 ORDER BY id
                """)
        var newest: [Int64: Int64] = [:]
        var last: (sensor: Int64, newest: Int64)?
        try forEachRow(of: statement, db, arguments: [after, through]) { stmt in
            let sensor = sqlite3_column_int64(stmt, 0)
            let collected = sqlite3_column_int64(stmt, 1)
            scan.add(sensor: sensor, collectedAt: collected, measuredTime: sqlite3_column_double(stmt, 2))
            if let current = last, current.sensor == sensor {
                last = (sensor, max(current.newest, collected))
            } else {
                if let last { newest[last.sensor] = max(newest[last.sensor] ?? .min, last.newest) }
                last = (sensor, collected)
            }
        }
        if let last { newest[last.sensor] = max(newest[last.sensor] ?? .min, last.newest) }
        return newest
    }

    /// The window's rows in measured_time order: those of its sensor whose collected_at lies in the
    /// window's span and whose measured_time falls in it.
    static func samples(_ db: Database, of window: AnalysisWindow) throws -> (times: [Double], values: [Double]) {
        // The channel names a column; it comes from the enum, never from a request. Stepped through the
        // C API: the engine reads back every sample stored.
        let statement = try db.cachedStatement(
            sql: """
                SELECT measured_time, \(window.channel.rawValue) FROM vibration_samples
                WHERE sensor_id = ? AND collected_at >= ? AND collected_at <= ? AND measured_time >= ? AND measured_time <= ?
                ORDER BY measured_time
                """)
        var times: [Double] = []
        var values: [Double] = []
        let span = window.rowSpan
        let low = Double(window.index) * window.seconds
        try forEachRow(of: statement, db, arguments: [window.sensorID, span.lowerBound, span.upperBound, low, low + window.seconds]) { stmt in
            let t = sqlite3_column_double(stmt, 0)
            guard window.holds(measuredTime: t) else { return }
            times.append(t)
            values.append(sqlite3_column_double(stmt, 1))
        }
        return (times, values)
    }

    /// One engine per SQLite database: `holder` is not checked.
    public func record(_ results: [WindowResult], passedOver: [AnalysisWindow], tracker: MachineStateTracker, holder: String?)
        async throws -> [Alarm]
    {
        // The evidence is encoded before the writer is taken.
        let evidence = try EvidenceText.byWindow(results)
        return try await pool.write { db in
            var machines: [String: VerdictPlan.Machine] = [:]
            for name in VerdictPlan.machineNames(of: results) {
                if let status = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT \(Self.statusColumns) FROM machines WHERE machine_name = ?"), arguments: [name]
                ).map(Self.machineStatus) {
                    machines[name] = VerdictPlan.Machine(channel: status.config.channel, state: status.state)
                }
            }
            let recorded = try db.cachedStatement(
                sql: "SELECT EXISTS (SELECT 1 FROM diagnosis_evidence WHERE sensor_id = ? AND window_start = ? AND channel = ?)")
            let plan = try VerdictPlan(
                results: results,
                recorded: { w in
                    try Bool.fetchOne(recorded, arguments: [w.sensorID, w.start.microseconds, w.channel.rawValue]) ?? false
                }, machines: machines, tracker: tracker)
            for result in plan.fresh {
                let w = result.window
                let d = result.diagnosis
                try db.cachedStatement(sql: "INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type) VALUES (?, ?, ?)")
                    .execute(arguments: [w.machineName, w.end.microseconds, d.faultType.rawValue])
                let diagnosisID = db.lastInsertedRowID
                try db.cachedStatement(
                    sql: """
                        INSERT INTO diagnosis_evidence (diagnosis_id, sensor_id, channel, window_start, window_seconds,
                            confidence, severity_zone, velocity_rms, shaft_hz, amplitude_1x, harmonics, rms, crest_factor,
                            kurtosis, evidence)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """
                ).execute(
                    arguments: [
                        diagnosisID, w.sensorID, w.channel.rawValue, w.start.microseconds, w.seconds, d.confidence,
                        d.severityZone.rawValue, d.spectral.velocityRMS, d.spectral.shaftHz, d.spectral.oneX,
                        d.spectral.harmonics, d.time.rms, d.time.crestFactor, d.time.kurtosis, evidence[w] ?? "[]",
                    ])
            }
            var alarmIDs: [Int64] = []
            for event in plan.alarmEvents {
                switch event {
                case .open(let machine, let at, let fault, let zone, let message):
                    try db.execute(
                        sql: "INSERT INTO alarms (machine_name, fault_type, severity_zone, message, opened_at) VALUES (?, ?, ?, ?, ?)",
                        arguments: [machine, fault.rawValue, zone?.rawValue, message, at.microseconds])
                    alarmIDs.append(db.lastInsertedRowID)
                case .close(let machine, let at):
                    try db.execute(
                        sql: "UPDATE alarms SET closed_at = ? WHERE machine_name = ? AND closed_at IS NULL", arguments: [at.microseconds, machine])
                }
            }
            for (machine, state) in plan.states {
                try db.cachedStatement(
                    sql: """
                        UPDATE machines SET state = ?, state_zone = ?, state_since = ?, pending_state = ?, pending_count = ?,
                            last_window_at = ?
                        WHERE machine_name = ?
                        """
                ).execute(
                    arguments: [
                        state.faultType.rawValue, state.zone?.rawValue, state.since?.microseconds, state.pending?.rawValue,
                        state.pendingCount, state.lastWindowAt?.microseconds, machine,
                    ])
            }
            // Taken off the open list: the windows recorded (now or before) and those passed over.
            let finish = try db.cachedStatement(
                sql: "DELETE FROM diagnosis_open_windows WHERE sensor_id = ? AND channel = ? AND recording_start = ? AND window_index = ?")
            for w in results.map(\.window) + passedOver {
                try finish.execute(arguments: [w.sensorID, w.channel.rawValue, w.recordingStart.microseconds, w.index])
            }
            return plan.opened(ids: alarmIDs)
        }
    }

    /// Keeps a scan's progress: how far the samples were looked at, the open windows, the open
    /// recordings and the extents the scan added to.
    static func keep(_ pending: PendingWindows, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO diagnosis_progress (id, scanned_through_id) VALUES (1, ?)
                ON CONFLICT (id) DO UPDATE SET scanned_through_id = max(scanned_through_id, excluded.scanned_through_id)
                """
        ).execute(arguments: [pending.scannedThrough])
        try db.cachedStatement(sql: "DELETE FROM diagnosis_open_windows").execute()
        for w in pending.open {
            try db.cachedStatement(
                sql: """
                    INSERT INTO diagnosis_open_windows
                        (sensor_id, channel, recording_start, window_index, window_seconds, collected_from, collected_through)
                    SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (
                        SELECT 1 FROM machines WHERE machine_name = ? AND channel = ?)
                    ON CONFLICT DO NOTHING
                    """
            ).execute(
                arguments: [
                    w.sensorID, w.channel.rawValue, w.recordingStart.microseconds, w.index, w.seconds,
                    w.collectedSpan?.lowerBound, w.collectedSpan?.upperBound, w.machineName, w.channel.rawValue,
                ])
        }
        for extent in pending.extents {
            try db.cachedStatement(
                sql: """
                    INSERT INTO recording_extents
                        (sensor_id, recording_start, time_low, time_high, collected_low, collected_high, clock_offset)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (sensor_id, recording_start) DO UPDATE SET
                        time_low = min(time_low, excluded.time_low), time_high = max(time_high, excluded.time_high),
                        collected_low = min(collected_low, excluded.collected_low),
                        collected_high = max(collected_high, excluded.collected_high),
                        clock_offset = max(clock_offset, excluded.clock_offset)
                    """
            ).execute(
                arguments: [
                    extent.sensorID, extent.start, extent.timeLow, extent.timeHigh, extent.collectedLow, extent.collectedHigh,
                    extent.clockOffset,
                ])
        }
        if let recordings = pending.recordings {
            try db.cachedStatement(sql: "DELETE FROM diagnosis_recordings").execute()
            for (sensor, open) in recordings {
                for recording in open {
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO diagnosis_recordings
                                (sensor_id, recording_start, sequence, spacing, covered, first_collected, last_collected, last_time)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            """
                    ).execute(
                        arguments: [
                            sensor, recording.start, recording.sequence, recording.spacing.isFinite ? recording.spacing : nil,
                            RecordingText.encode(recording.flatCovered), recording.firstCollected, recording.lastCollected,
                            recording.lastTime,
                        ])
                }
            }
        }
    }

    public func engineEvidence(diagnosisID: Int64) async throws -> EngineEvidence? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT s.sensor_no, e.channel, e.window_start, e.window_seconds, e.confidence, e.severity_zone,
                               e.velocity_rms, e.shaft_hz, e.evidence
                        FROM diagnosis_evidence e JOIN sensors s ON s.id = e.sensor_id WHERE e.diagnosis_id = ?
                        """, arguments: [diagnosisID])
            else { return nil }
            let evidenceText: String = row[8]
            return EngineEvidence(
                sensorNo: row[0], channel: SignalChannel(rawValue: row[1]) ?? .normal, windowStart: Timestamp(microseconds: row[2]),
                windowSeconds: row[3], confidence: row[4], severityZone: ISO10816.Zone(rawValue: row[5]) ?? .a,
                velocityRMS: row[6], shaftHz: row[7],
                evidence: EvidenceText.decode(evidenceText))
        }
    }

    public func featureTrend(machineName: String, from: Timestamp?, to: Timestamp?, limit: Int) async throws -> [FeaturePoint] {
        let sql = """
            SELECT d.id, d.detected_at, d.fault_type, e.severity_zone, s.sensor_no, e.channel, e.rms, e.crest_factor,
                   e.kurtosis, e.velocity_rms, e.amplitude_1x, e.harmonics, e.shaft_hz
            FROM vibration_diagnosis d
            JOIN diagnosis_evidence e ON e.diagnosis_id = d.id
            JOIN sensors s ON s.id = e.sensor_id
            WHERE d.machine_name = ? AND d.detected_at BETWEEN ? AND ?
            ORDER BY d.detected_at DESC, d.id DESC LIMIT ?
            """
        let arguments: StatementArguments = [
            machineName, from?.microseconds ?? Int64.min, to?.microseconds ?? Int64.max, limit,
        ]
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).reversed().map { row in
                FeaturePoint(
                    diagnosisID: row[0], time: Timestamp(microseconds: row[1]), faultType: FaultType(rawValue: row[2]) ?? .normal,
                    severityZone: ISO10816.Zone(rawValue: row[3]) ?? .a, sensorNo: row[4],
                    channel: SignalChannel(rawValue: row[5]) ?? .normal, rms: row[6], crestFactor: row[7], kurtosis: row[8],
                    velocityRMS: row[9], oneX: row[10], harmonics: row[11], shaftHz: row[12])
            }
        }
    }

    public func learnBaseline(machineName: String, from: Timestamp, to: Timestamp) async throws -> HealthyBaseline? {
        try await pool.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT e.amplitude_1x, e.harmonics FROM diagnosis_evidence e
                    JOIN vibration_diagnosis d ON d.id = e.diagnosis_id
                    WHERE d.machine_name = ? AND d.detected_at BETWEEN ? AND ?
                    """,
                arguments: [machineName, from.microseconds, to.microseconds])
            guard let baseline = HealthyBaseline(oneXLevels: rows.map { $0[0] }, harmonicLevels: rows.map { $0[1] }) else {
                return nil
            }
            try db.execute(
                sql: "UPDATE machines SET baseline_1x = ?, baseline_harmonics = ? WHERE machine_name = ?",
                arguments: [baseline.oneX, baseline.harmonics, machineName])
            return baseline
        }
    }

    public func restartScan() async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM diagnosis_progress")
            try db.execute(sql: "DELETE FROM diagnosis_open_windows")
            try db.execute(sql: "DELETE FROM diagnosis_recordings")
            try db.execute(sql: "DELETE FROM recording_extents")
        }
    }

    public func forgetEngineDiagnoses(machineName: String?, from: Timestamp?, to: Timestamp?) async throws -> Int {
        try await pool.write { db in
            var conditions = ["id IN (SELECT diagnosis_id FROM diagnosis_evidence)"]
            var arguments: StatementArguments = []
            if let machineName {
                conditions.append("machine_name = ?")
                arguments += [machineName]
            }
            if let from {
                conditions.append("detected_at >= ?")
                arguments += [from.microseconds]
            }
            if let to {
                conditions.append("detected_at <= ?")
                arguments += [to.microseconds]
            }
            try db.execute(sql: "DELETE FROM vibration_diagnosis WHERE " + conditions.joined(separator: " AND "), arguments: arguments)
            let removed = db.changesCount
            // Look at every sample again; windows still diagnosed are skipped.
            try db.execute(sql: "DELETE FROM diagnosis_progress")
            try db.execute(sql: "DELETE FROM diagnosis_open_windows")
            try db.execute(sql: "DELETE FROM diagnosis_recordings")
            try db.execute(sql: "DELETE FROM recording_extents")
            return removed
        }
    }
}
