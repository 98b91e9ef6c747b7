import PostgresNIO
import VibrationCore

extension PostgresStore {
    public func scan(seconds: Double, limit: Int, channels: [SignalChannel]?, machines: Set<String>?) async throws -> PendingWindows {
        try await registerSeenMachines()
        // The scan lock is held from reading the progress to keeping the new one; the scan's reads
        // run on other connections meanwhile.
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(unescaped: PostgresSchema.scanLock))", logger: logger)
            let pending = try await findWindows(seconds: seconds, limit: limit, channels: channels, machines: machines)
            try await Self.keep(pending, on: connection, logger: logger)
            return pending
        }
    }

    private func findWindows(seconds: Double, limit: Int, channels: [SignalChannel]?, machines: Set<String>?) async throws -> PendingWindows {
        let marker = try await one("SELECT scanned_through_id FROM diagnosis_progress WHERE id = 1", Int64.self) ?? 0
        let newest = try await newestSampleID()
        let upto = min(newest, marker + PendingWindows.scanRows)
        var candidates: [AnalysisWindow] = []
        // Windows left open by earlier calls.
        for (sensor, machine, sensorNo, channel, recording, index, width, from, through) in try await all(
            """
            SELECT o.sensor_id, s.machine_name, s.sensor_no, o.channel, o.recording_start, o.window_index, o.window_seconds,
                   o.collected_from, o.collected_through
            FROM diagnosis_open_windows o JOIN sensors s ON s.id = o.sensor_id
            """, (Int64, String, String, String, Int64, Int, Double, Int64?, Int64?).self)
        {
            candidates.append(
                AnalysisWindow(
                    machineName: machine, sensorNo: sensorNo, sensorID: sensor, channel: SignalChannel(rawValue: channel) ?? .normal,
                    recordingStart: Timestamp(microseconds: recording), index: index, seconds: width,
                    collectedSpan: from.flatMap { f in through.map { f...max(f, $0) } }))
        }
        var recordings: [Int64: [RecordingTracker.Recording]] = [:]
        for (sensor, start, sequence, spacing, covered, firstCollected, lastCollected, lastTime) in try await all(
            """
            SELECT sensor_id, recording_start, sequence, spacing, covered, first_collected, last_collected, last_time
            FROM diagnosis_recordings ORDER BY sensor_id, sequence
            """, (Int64, Int64, Int64, Double?, String, Int64, Int64, Double).self)
        {
            recordings[sensor, default: []].append(
                RecordingTracker.Recording(
                    start: start, spacing: spacing ?? .infinity, flatCovered: RecordingText.decode(covered), sequence: sequence,
                    firstCollected: firstCollected, lastCollected: lastCollected, lastTime: lastTime))
        }
        var scan = WindowScan(tracker: RecordingTracker(sensors: recordings), seconds: seconds)
        // The new rows in id order, each placed in its recording and window. PostgreSQL hands them
        // over in pieces (a sensor's rows of one window within a block of ids: mostly a batch's run).
        // A piece that continues its sensor's current recording step by step, or begins a new one
        // (every open recording holds its first measured_time), is placed whole (rows sent in
        // order: nearly all of a load); any other (out of order, mixing two recordings,
        // skipping a gap, a sensor whose step is not known yet) is read and placed row by row.
        if upto > marker {
            let pieces = try await allByID(
                """
                SELECT sensor_id, min(id), max(id), count(*), min(measured_time), max(measured_time),
                       round(date_part('epoch', min(collected_at)) * 1000000)::bigint,
                       round(date_part('epoch', max(collected_at)) * 1000000)::bigint
                FROM vibration_data
                WHERE id > \(marker) AND id <= \(upto) AND measured_time >= 0
                GROUP BY sensor_id, floor(measured_time / \(seconds)), id / \(Self.pieceIDs)
                ORDER BY 2
                """, (Int64, Int64, Int64, Int, Double, Double, Int64, Int64).self)
            for (sensor, firstID, lastID, count, low, high, collectedLow, collectedHigh) in pieces {
                // Whole when its mean step is the sensor's step (a gap of a batch or more shows as a
                // step 20% longer or more, two recordings' rows as a shorter one) and its stamps span
                // no more than its measured_time and a second.
                var whole = count == 1
                if count > 1, high > low, let known = scan.tracker.spacing(sensor: sensor) {
                    let step = (high - low) / Double(count - 1)
                    whole = step >= 0.9 * known && step <= 1.1 * known && collectedHigh - collectedLow <= Int64((high - low + 1) * 1_000_000)
                        && (scan.tracker.continues(sensor: sensor, low: low, collectedAt: collectedLow)
                            || scan.tracker.startsNew(sensor: sensor, low: low))
                }
                if whole {
                    scan.add(
                        sensor: sensor, low: low, high: high, count: count, collectedFirst: collectedLow, collectedLow: collectedLow,
                        collectedHigh: collectedHigh)
                    continue
                }
                for (collected, t) in try await allByID(
                    """
                    SELECT round(date_part('epoch', collected_at) * 1000000)::bigint, measured_time
                    FROM vibration_data
                    WHERE id >= \(firstID) AND id <= \(lastID) AND sensor_id = \(sensor)
                      AND measured_time >= \(low) AND measured_time <= \(high)
                      AND floor(measured_time / \(seconds)) = floor(\(low)::float8 / \(seconds))
                    ORDER BY id
                    """, (Int64, Double).self)
                {
                    scan.add(sensor: sensor, collectedAt: collected, measuredTime: t)
                }
            }
        }
        let placed = scan.finish()
        if !scan.windowRows.isEmpty {
            var monitored: [Int64: (machine: String, sensorNo: String, channel: SignalChannel)] = [:]
            for (id, machine, sensorNo, channel) in try await all(
                """
                SELECT s.id, s.machine_name, s.sensor_no, m.channel
                FROM sensors s JOIN machines m ON m.machine_name = s.machine_name
                WHERE s.id = ANY(\(Array(scan.sensors))::bigint[])
                """, (Int64, String, String, String).self)
            {
                monitored[id] = (machine, sensorNo, SignalChannel(rawValue: channel) ?? .normal)
            }
            candidates += scan.windows(monitored: monitored, channels: channels)
        }
        guard !candidates.isEmpty else {
            var pending = PendingWindows.split(
                ready: [], incomplete: [], limit: limit, scannedThrough: max(marker, upto), recordings: upto > marker ? placed : nil,
                machines: machines)
            pending.extents = scan.extents
            return pending
        }
        // Which were diagnosed already: one statement for all of them.
        var done = Set<AnalysisWindow>()
        for (i, recorded) in try await all(
            """
            SELECT c.i, \(unescaped: Self.recorded("c"))
            FROM unnest(\(Array(candidates.indices))::bigint[], \(candidates.map(\.sensorID))::bigint[], \(candidates.map(\.start))::timestamptz[],
                        \(candidates.map(\.channel.rawValue))::text[])
                 AS c(i, sensor, start, channel)
            """, (Int, Bool).self) where recorded
        {
            done.insert(candidates[i])
        }
        let (ready, open) = PendingWindows.sort(candidates, tracker: scan.tracker) { done.contains($0) }
        var pending = PendingWindows.split(
            ready: ready, incomplete: open, limit: limit, scannedThrough: max(marker, upto), recordings: upto > marker ? placed : nil,
                machines: machines)
        pending.extents = scan.extents
        return pending
    }

    /// Ids per block when the engine's scan reads new rows in pieces.
    static let pieceIDs = 1024

    /// The highest sample id given out, read holding the write lock: every sample write before it
    /// has committed or rolled back, and every one after gets a higher id. Ranges of the id index
    /// appended since the last call are summed up first, so that the scan reads only its own.
    /// (A tool inserting without himmes does not take the lock: its rows may still be uncommitted
    /// below this id and then not be scanned.)
    func newestSampleID() async throws -> Int64 {
        _ = try await one("SELECT himmes_summarize_new_ranges()", Int32.self)
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(unescaped: PostgresSchema.writeLock))", logger: logger)
            return try await connection.query(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM vibration_data_id_seq", logger: logger
            ).first(Int64.self) ?? 0
        }
    }

    /// Whether the engine recorded the window that `alias` (with columns sensor, start, channel)
    /// names: one probe of the evidence's unique key.
    static func recorded(_ alias: String) -> String {
        """
        EXISTS (SELECT 1 FROM diagnosis_evidence e
                WHERE e.sensor_id = \(alias).sensor AND e.window_start = \(alias).start AND e.channel = \(alias).channel)
        """
    }

    public func samples(of window: AnalysisWindow) async throws -> (times: [Double], values: [Double]) {
        try await samples(of: [window])[0]
    }

    /// One statement per channel for all the windows: each window's samples come back as two arrays
    /// in one row (decoding a row per sample cost most of the engine's time).
    public func samples(of windows: [AnalysisWindow]) async throws -> [(times: [Double], values: [Double])] {
        var result = [(times: [Double], values: [Double])](repeating: ([], []), count: windows.count)
        let byChannel = Dictionary(grouping: windows.indices, by: { windows[$0].channel })
        for (channel, indices) in byChannel {
            let w = indices.map { windows[$0] }
            // The channel names a column; it comes from the enum, never from a request.
            let rows = try await all(
                """
                SELECT w.i, coalesce(x.ts, '{}'), coalesce(x.vs, '{}')
                FROM unnest(\(indices.map { Int64($0) })::bigint[], \(w.map(\.sensorID))::bigint[],
                            \(w.map { Timestamp(microseconds: $0.rowSpan.lowerBound) })::timestamptz[],
                            \(w.map { Timestamp(microseconds: $0.rowSpan.upperBound) })::timestamptz[],
                            \(w.map { Double($0.index) * $0.seconds })::float8[], \(w.map { Double($0.index + 1) * $0.seconds })::float8[])
                     AS w(i, sensor, collected_from, collected_through, low, high)
                CROSS JOIN LATERAL (
                    SELECT array_agg(measured_time ORDER BY measured_time) AS ts,
                           array_agg(\(unescaped: channel.rawValue) ORDER BY measured_time) AS vs
                    FROM vibration_data v
                    WHERE v.sensor_id = w.sensor AND v.collected_at >= w.collected_from AND v.collected_at <= w.collected_through
                      AND v.measured_time >= w.low AND v.measured_time <= w.high) x
                """, (Int, [Double], [Double]).self)
            for (i, ts, vs) in rows {
                let window = windows[i]
                var times: [Double] = []
                var values: [Double] = []
                times.reserveCapacity(ts.count)
                values.reserveCapacity(ts.count)
                for (t, value) in zip(ts, vs) where window.holds(measuredTime: t) {
                    times.append(t)
                    values.append(value)
                }
                result[i] = (times, values)
            }
        }
        return result
    }

    public func record(_ results: [WindowResult], passedOver: [AnalysisWindow], tracker: MachineStateTracker, holder: String?)
        async throws -> [Alarm]
    {
        // The evidence is encoded before the transaction begins.
        let evidence = try EvidenceText.byWindow(results)
        return try await client.withTransaction(logger: logger) { connection in
            func one<C: PostgresDecodable & Sendable>(_ query: PostgresQuery, _ type: C.Type) async throws -> C? {
                try await connection.query(query, logger: logger).first(type)
            }
            // Servers sharing the database each run an engine: one records at a time, so that a
            // window one of them recorded is seen as done by the other.
            try await connection.query("SELECT pg_advisory_xact_lock(\(unescaped: PostgresSchema.engineLock))", logger: logger)
            // With a holder, only the machines it still leases (held until COMMIT: no other server
            // takes them over meanwhile).
            var held = Set(results.map(\.window.machineName) + passedOver.map(\.machineName))
            if let holder, !held.isEmpty {
                var leased = Set<String>()
                for try await name in try await connection.query(
                    "SELECT machine_name FROM engine_leases WHERE holder = \(holder) AND machine_name = ANY(\(Array(held))::text[]) FOR SHARE",
                    logger: logger
                ).decode(String.self) { leased.insert(name) }
                held = leased
            }
            let results = results.filter { held.contains($0.window.machineName) }
            // Which windows were recorded before (by an earlier run, or another server's engine).
            var done = Set<AnalysisWindow>()
            if !results.isEmpty {
                for try await i in try await connection.query(
                    """
                    SELECT w.i FROM unnest(\(results.indices.map { Int64($0) })::bigint[], \(results.map(\.window.sensorID))::bigint[],
                                            \(results.map(\.window.start))::timestamptz[], \(results.map(\.window.channel.rawValue))::text[])
                         AS w(i, sensor, start, channel)
                    WHERE \(unescaped: Self.recorded("w"))
                    """, logger: logger
                ).decode(Int64.self) { done.insert(results[Int(i)].window) }
            }
            // Each machine's monitored channel and confirmed state, read once.
            var machines: [String: VerdictPlan.Machine] = [:]
            let names = VerdictPlan.machineNames(of: results)
            if !names.isEmpty {
                for try await row in try await connection.query(
                    "SELECT \(unescaped: Self.statusColumns) FROM machines WHERE machine_name = ANY(\(names)::text[])", logger: logger
                ).decode(StatusRow.self) {
                    let status = Self.machineStatus(row)
                    machines[row.0] = VerdictPlan.Machine(channel: status.config.channel, state: status.state)
                }
            }
            let plan = VerdictPlan(results: results, recorded: { done.contains($0) }, machines: machines, tracker: tracker)
            // The diagnoses and their evidence in two statements, with ids drawn beforehand so that
            // each evidence row names its diagnosis.
            if !plan.fresh.isEmpty {
                var ids: [Int64] = []
                for try await id in try await connection.query(
                    "SELECT nextval(pg_get_serial_sequence('vibration_diagnosis', 'id')) FROM generate_series(1, \(plan.fresh.count))",
                    logger: logger
                ).decode(Int64.self) { ids.append(id) }
                ids.sort()
                let w = plan.fresh.map(\.window)
                let d = plan.fresh.map(\.diagnosis)
                try await connection.query(
                    """
                    INSERT INTO vibration_diagnosis (id, machine_name, detected_at, fault_type)
                    SELECT * FROM unnest(\(ids)::bigint[], \(w.map(\.machineName))::text[], \(w.map(\.end))::timestamptz[],
                                         \(d.map(\.faultType.rawValue))::integer[])
                    """, logger: logger)
                try await connection.query(
                    """
                    INSERT INTO diagnosis_evidence (diagnosis_id, sensor_id, channel, window_start, window_seconds,
                        confidence, severity_zone, velocity_rms, shaft_hz, amplitude_1x, harmonics, rms, crest_factor, kurtosis, evidence)
                    SELECT * FROM unnest(\(ids)::bigint[], \(w.map(\.sensorID))::bigint[], \(w.map(\.channel.rawValue))::text[],
                        \(w.map(\.start))::timestamptz[], \(w.map(\.seconds))::float8[], \(d.map(\.confidence))::float8[],
                        \(d.map(\.severityZone.rawValue))::text[], \(d.map(\.spectral.velocityRMS))::float8[],
                        \(d.map(\.spectral.shaftHz))::float8[], \(d.map(\.spectral.oneX))::float8[], \(d.map(\.spectral.harmonics))::float8[],
                        \(d.map(\.time.rms))::float8[], \(d.map(\.time.crestFactor))::float8[], \(d.map(\.time.kurtosis))::float8[],
                        \(w.map { evidence[$0] ?? "[]" })::text[])
                    """, logger: logger)
            }
            var alarmIDs: [Int64] = []
            for event in plan.alarmEvents {
                switch event {
                case .open(let machine, let at, let fault, let zone, let message):
                    guard
                        let id = try await one(
                            """
                            INSERT INTO alarms (machine_name, fault_type, severity_zone, message, opened_at)
                            VALUES (\(machine), \(fault.rawValue), \(zone?.rawValue), \(message), \(at)) RETURNING id
                            """, Int64.self)
                    else { throw PostgresStoreError.unexpected("INSERT returned no id") }
                    alarmIDs.append(id)
                case .close(let machine, let at):
                    try await connection.query(
                        "UPDATE alarms SET closed_at = \(at) WHERE machine_name = \(machine) AND closed_at IS NULL", logger: logger)
                }
            }
            for (machine, state) in plan.states {
                try await connection.query(
                    """
                    UPDATE machines SET state = \(state.faultType.rawValue), state_zone = \(state.zone?.rawValue),
                        state_since = \(state.since), pending_state = \(state.pending?.rawValue), pending_count = \(state.pendingCount),
                        last_window_at = \(state.lastWindowAt)
                    WHERE machine_name = \(machine)
                    """, logger: logger)
            }
            // Taken off the open list: every window of the machines held, recorded now or before, or passed over.
            let finished = results.map(\.window) + passedOver.filter { held.contains($0.machineName) }
            if !finished.isEmpty {
                try await connection.query(
                    """
                    DELETE FROM diagnosis_open_windows o
                    USING unnest(\(finished.map(\.sensorID))::bigint[], \(finished.map(\.channel.rawValue))::text[],
                                 \(finished.map(\.recordingStart.microseconds))::bigint[], \(finished.map(\.index))::bigint[]) AS f(sensor, channel, recording, idx)
                    WHERE o.sensor_id = f.sensor AND o.channel = f.channel AND o.recording_start = f.recording AND o.window_index = f.idx
                    """, logger: logger)
            }
            return plan.opened(ids: alarmIDs)
        }
    }

    /// Keeps a scan's progress: how far the samples were looked at, the open windows, the open
    /// recordings and the extents the scan added to.
    static func keep(_ pending: PendingWindows, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO diagnosis_progress (id, scanned_through_id) VALUES (1, \(pending.scannedThrough))
            ON CONFLICT (id) DO UPDATE SET scanned_through_id = greatest(diagnosis_progress.scanned_through_id, excluded.scanned_through_id)
            """, logger: logger)
        try await connection.query("DELETE FROM diagnosis_open_windows", logger: logger)
        let open = pending.open
        if !open.isEmpty {
            try await connection.query(
                """
                INSERT INTO diagnosis_open_windows
                    (sensor_id, channel, recording_start, window_index, window_seconds, collected_from, collected_through)
                SELECT o.sensor_id, o.channel, o.recording_start, o.window_index, o.window_seconds,
                       nullif(o.collected_from, \(Int64.min)), nullif(o.collected_through, \(Int64.min))
                FROM unnest(\(open.map(\.sensorID))::bigint[], \(open.map(\.channel.rawValue))::text[],
                            \(open.map(\.recordingStart.microseconds))::bigint[], \(open.map(\.index))::bigint[],
                            \(open.map(\.seconds))::float8[], \(open.map(\.machineName))::text[],
                            \(open.map { $0.collectedSpan?.lowerBound ?? .min })::bigint[],
                            \(open.map { $0.collectedSpan?.upperBound ?? .min })::bigint[])
                     AS o(sensor_id, channel, recording_start, window_index, window_seconds, machine, collected_from, collected_through)
                WHERE EXISTS (SELECT 1 FROM machines m WHERE m.machine_name = o.machine AND m.channel = o.channel)
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        if !pending.extents.isEmpty {
            let e = pending.extents
            try await connection.query(
                """
                INSERT INTO recording_extents AS x
                    (sensor_id, recording_start, time_low, time_high, collected_low, collected_high, clock_offset)
                SELECT * FROM unnest(\(e.map(\.sensorID))::bigint[], \(e.map(\.start))::bigint[], \(e.map(\.timeLow))::float8[],
                                     \(e.map(\.timeHigh))::float8[], \(e.map(\.collectedLow))::bigint[],
                                     \(e.map(\.collectedHigh))::bigint[], \(e.map(\.clockOffset))::bigint[])
                ON CONFLICT (sensor_id, recording_start) DO UPDATE SET
                    time_low = least(x.time_low, excluded.time_low), time_high = greatest(x.time_high, excluded.time_high),
                    collected_low = least(x.collected_low, excluded.collected_low),
                    collected_high = greatest(x.collected_high, excluded.collected_high),
                    clock_offset = greatest(x.clock_offset, excluded.clock_offset)
                """, logger: logger)
        }
        if let recordings = pending.recordings {
            try await connection.query("DELETE FROM diagnosis_recordings", logger: logger)
            let rows = recordings.flatMap { sensor, open in open.map { (sensor, $0) } }
            if !rows.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO diagnosis_recordings
                        (sensor_id, recording_start, sequence, spacing, covered, first_collected, last_collected, last_time)
                    SELECT sensor_id, recording_start, sequence, nullif(spacing, 'Infinity'), covered, first_collected,
                           last_collected, last_time
                    FROM unnest(\(rows.map(\.0))::bigint[], \(rows.map(\.1.start))::bigint[], \(rows.map(\.1.sequence))::bigint[],
                                \(rows.map(\.1.spacing))::float8[], \(rows.map { RecordingText.encode($0.1.flatCovered) })::text[],
                                \(rows.map(\.1.firstCollected))::bigint[], \(rows.map(\.1.lastCollected))::bigint[],
                                \(rows.map(\.1.lastTime))::float8[])
                         AS r(sensor_id, recording_start, sequence, spacing, covered, first_collected, last_collected, last_time)
                    """, logger: logger)
            }
        }
    }

    public func engineEvidence(diagnosisID: Int64) async throws -> EngineEvidence? {
        guard
            let r = try await all(
                """
                SELECT s.sensor_no, e.channel, e.window_start, e.window_seconds, e.confidence, e.severity_zone,
                       e.velocity_rms, e.shaft_hz, e.evidence
                FROM diagnosis_evidence e JOIN sensors s ON s.id = e.sensor_id WHERE e.diagnosis_id = \(diagnosisID)
                """, (String, String, Timestamp, Double, Double, String, Double, Double, String).self
            ).first
        else { return nil }
        return EngineEvidence(
            sensorNo: r.0, channel: SignalChannel(rawValue: r.1) ?? .normal, windowStart: r.2, windowSeconds: r.3, confidence: r.4,
            severityZone: ISO10816.Zone(rawValue: r.5) ?? .a, velocityRMS: r.6, shaftHz: r.7, evidence: EvidenceText.decode(r.8))
    }

    public func featureTrend(machineName: String, from: Timestamp?, to: Timestamp?, limit: Int) async throws -> [FeaturePoint] {
        try await all(
            """
            SELECT d.id, d.detected_at, d.fault_type, e.severity_zone, s.sensor_no, e.channel, e.rms, e.crest_factor,
                   e.kurtosis, e.velocity_rms, e.amplitude_1x, e.harmonics, e.shaft_hz
            FROM vibration_diagnosis d
            JOIN diagnosis_evidence e ON e.diagnosis_id = d.id
            JOIN sensors s ON s.id = e.sensor_id
            WHERE d.machine_name = \(machineName) AND (\(from)::timestamptz IS NULL OR d.detected_at >= \(from))
              AND (\(to)::timestamptz IS NULL OR d.detected_at <= \(to))
            ORDER BY d.detected_at DESC, d.id DESC LIMIT \(limit)
            """, (Int64, Timestamp, Int, String, String, String, Double, Double, Double, Double, Double, Double, Double).self
        ).reversed().map { r in
            FeaturePoint(
                diagnosisID: r.0, time: r.1, faultType: FaultType(rawValue: r.2) ?? .normal, severityZone: ISO10816.Zone(rawValue: r.3) ?? .a,
                sensorNo: r.4, channel: SignalChannel(rawValue: r.5) ?? .normal, rms: r.6, crestFactor: r.7, kurtosis: r.8,
                velocityRMS: r.9, oneX: r.10, harmonics: r.11, shaftHz: r.12)
        }
    }

    public func learnBaseline(machineName: String, from: Timestamp, to: Timestamp) async throws -> HealthyBaseline? {
        let rows = try await all(
            """
            SELECT e.amplitude_1x, e.harmonics FROM diagnosis_evidence e
            JOIN vibration_diagnosis d ON d.id = e.diagnosis_id
            WHERE d.machine_name = \(machineName) AND d.detected_at BETWEEN \(from) AND \(to)
            """, (Double, Double).self)
        guard let baseline = HealthyBaseline(oneXLevels: rows.map(\.0), harmonicLevels: rows.map(\.1)) else { return nil }
        try await query(
            """
            UPDATE machines SET baseline_1x = \(baseline.oneX), baseline_harmonics = \(baseline.harmonics)
            WHERE machine_name = \(machineName)
            """)
        return baseline
    }

    public func restartScan() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(unescaped: PostgresSchema.scanLock))", logger: logger)
            for table in ["diagnosis_progress", "diagnosis_open_windows", "diagnosis_recordings", "recording_extents"] {
                try await connection.query(PostgresQuery(unsafeSQL: "DELETE FROM \(table)"), logger: logger)
            }
        }
    }

    public func forgetEngineDiagnoses(machineName: String?, from: Timestamp?, to: Timestamp?) async throws -> Int {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(unescaped: PostgresSchema.scanLock))", logger: logger)
            let rows = try await connection.query(
                """
                WITH gone AS (
                    DELETE FROM vibration_diagnosis
                    WHERE id IN (SELECT diagnosis_id FROM diagnosis_evidence)
                      AND (\(machineName)::text IS NULL OR machine_name = \(machineName))
                      AND (\(from)::timestamptz IS NULL OR detected_at >= \(from))
                      AND (\(to)::timestamptz IS NULL OR detected_at <= \(to))
                    RETURNING 1)
                SELECT count(*) FROM gone
                """, logger: logger)
            let removed = Int(try await rows.first(Int64.self) ?? 0)
            // Look at every sample again; windows still diagnosed are skipped.
            try await connection.query("DELETE FROM diagnosis_progress", logger: logger)
            try await connection.query("DELETE FROM diagnosis_open_windows", logger: logger)
            try await connection.query("DELETE FROM diagnosis_recordings", logger: logger)
            try await connection.query("DELETE FROM recording_extents", logger: logger)
            return removed
        }
    }
}
