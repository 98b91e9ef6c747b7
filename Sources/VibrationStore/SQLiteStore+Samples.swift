import CSQLiteSettings
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization
import VibrationCore

extension SQLiteStore {
    static let sampleColumns = """
        v.id, s.machine_name, s.sensor_no, v.collected_at, v.measured_time,
        v.normal, v.unbalance, v.looseness, v.unbalance_looseness
        """

    static func storedSample(_ row: Row) -> StoredSample {
        StoredSample(
            id: row[0],
            sample: VibrationSample(
                machineName: row[1], sensorNo: row[2], collectedAt: Timestamp(microseconds: row[3]),
                measuredTime: row[4], normal: row[5], unbalance: row[6], looseness: row[7],
                unbalanceLooseness: row[8]))
    }

    /// The id of the (machine, sensor) pair, created on first sight.
    /// The sensor's id; nil when the machine has no such sensor.
    static func existingSensorID(_ db: Database, machineName: String, sensorNo: String) throws -> Int64? {
        try Int64.fetchOne(
            db, sql: "SELECT id FROM sensors WHERE machine_name = ? AND sensor_no = ?", arguments: [machineName, sensorNo])
    }

    static func sensorID(_ db: Database, machineName: String, sensorNo: String) throws -> Int64 {
        try db.execute(
            sql: "INSERT INTO sensors (machine_name, sensor_no) VALUES (?, ?) ON CONFLICT DO NOTHING",
            arguments: [machineName, sensorNo])
        guard
            let id = try Int64.fetchOne(
                db, sql: "SELECT id FROM sensors WHERE machine_name = ? AND sensor_no = ?",
                arguments: [machineName, sensorNo])
        else { throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "sensor row vanished") }
        return id
    }

    public func insert(_ sample: VibrationSample) async throws -> StoredSample {
        try await pool.write { db in
            let sensor = try Self.sensorID(db, machineName: sample.machineName, sensorNo: sample.sensorNo)
            try db.execute(
                sql: """
                    INSERT INTO vibration_samples
                        (sensor_id, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
                    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """,
                arguments: [
                    sensor, sample.collectedAt.microseconds, sample.measuredTime, sample.normal, sample.unbalance,
                    sample.looseness, sample.unbalanceLooseness,
                ])
            guard db.changesCount == 1 else {
                let existing =
                    try Int64.fetchOne(
                        db,
                        sql: """
                            SELECT id FROM vibration_samples
                            WHERE sensor_id = ? AND collected_at = ? AND measured_time = ?
                            """,
                        arguments: [sensor, sample.collectedAt.microseconds, sample.measuredTime]) ?? 0
                throw StoreError.duplicateSample(existingID: existing)
            }
            let id = db.lastInsertedRowID
            var summary = WaveformSummary.Accumulator()
            summary.add(
                sensor: sensor, at: sample.collectedAt.microseconds,
                SIMD4(sample.normal, sample.unbalance, sample.looseness, sample.unbalanceLooseness))
            try summary.write(db)
            return StoredSample(id: id, sample: sample)
        }
    }

    public func sample(id: Int64) async throws -> StoredSample? {
        try await quickRead { db in
            try Row.fetchOne(
                db,
                sql: "SELECT \(Self.sampleColumns) FROM vibration_samples v JOIN sensors s ON s.id = v.sensor_id WHERE v.id = ?",
                arguments: [id]
            ).map(Self.storedSample)
        }
    }

    public func samples(matching filter: SampleFilter, after cursor: SampleCursor?, limit: Int) async throws
        -> [StoredSample]
    {
        // A page of the table on this thread; a long list (an export) through the pool.
        try await quickRead(short: limit <= 1_000) { db in try Self.samples(db, matching: filter, after: cursor, limit: limit) }
    }

    public func samplesByMeasuredTime(machineName: String, sensorNo: String, within range: ClosedRange<Double>, limit: Int)
        async throws -> [StoredSample]
    {
        try await pool.read { db in
            guard let sensor = try Self.existingSensorID(db, machineName: machineName, sensorNo: sensorNo) else { return [] }
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.sampleColumns) FROM vibration_samples v JOIN sensors s ON s.id = v.sensor_id
                    WHERE v.sensor_id = ? AND v.measured_time BETWEEN ? AND ?
                    ORDER BY v.measured_time, v.collected_at, v.id LIMIT ?
                    """, arguments: [sensor, range.lowerBound, range.upperBound, limit]
            ).map(Self.storedSample)
        }
    }

    /// Each sensor's samples are in time order in the identity index; a list across sensors merges
    /// those runs, reading only as many rows from each as the page needs.
    static func samples(_ db: Database, matching filter: SampleFilter, after cursor: SampleCursor?, limit: Int) throws
        -> [StoredSample]
    {
        let sensorTerms = filter.sensorPredicate.sqlite()
        let sensors = try Row.fetchAll(
            db, sql: "SELECT id, machine_name, sensor_no FROM sensors " + ListPredicate.whereClause(sensorTerms.conditions),
            arguments: sensorTerms.arguments)
        let timeTerms = filter.timePredicate.sqlite()
        var conditions = ["sensor_id = ?"] + timeTerms.conditions
        let arguments = timeTerms.arguments
        // Every read continues after a key: the page's cursor, or the key of the sensor's last row read.
        let (keyword, after) = filter.order.sql
        conditions.append("(collected_at, measured_time, id) \(after) (?, ?, ?)")
        let statement = try db.cachedStatement(
            sql: """
                SELECT id, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness
                FROM vibration_samples WHERE \(conditions.joined(separator: " AND "))
                ORDER BY collected_at \(keyword), measured_time \(keyword), id \(keyword) LIMIT ?
                """)
        let newestFirst = filter.order == .newestFirst
        let start =
            cursor.map { SampleKey(collectedAt: $0.collectedAt.microseconds, measuredTime: $0.measuredTime, id: $0.id) }
            ?? (newestFirst
                ? SampleKey(collectedAt: .max, measuredTime: .infinity, id: .max)
                : SampleKey(collectedAt: .min, measuredTime: -.infinity, id: .min))
        var runs: [SampleRun] = []
        for sensor in sensors {
            var run = SampleRun(sensorID: sensor[0], machineName: sensor[1], sensorNo: sensor[2], after: start)
            if try run.advance(statement, arguments, limit: limit) { runs.append(run) }
        }
        var merged: [StoredSample] = []
        merged.reserveCapacity(min(limit, 10_000))
        var heap = MinHeap(runs, by: { newestFirst ? $1.head!.key < $0.head!.key : $0.head!.key < $1.head!.key })
        while merged.count < limit, var run = heap.popMin() {
            merged.append(run.head!.sample)
            if try run.advance(statement, arguments, limit: limit - merged.count) { heap.insert(run) }
        }
        return merged
    }

    public func series(
        machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, limit: Int
    ) async throws -> (times: [Int64], values: [Double])? {
        // The channel names a column; it comes from the enum, never from a request.
        let column = channel.rawValue
        return try await pool.read { db in
            guard let sensor = try Self.existingSensorID(db, machineName: machineName, sensorNo: sensorNo) else { return nil }
            if let placed = try Self.seriesByRecording(db, sensor: sensor, column: column, from: from, to: to, limit: limit) {
                return placed
            }
            // Stepped through the C API: a zoomed-in waveform reads up to `limit` raw samples.
            let statement = try db.cachedStatement(
                sql: """
                    SELECT collected_at, \(column) FROM vibration_samples
                    WHERE sensor_id = ? AND collected_at BETWEEN ? AND ? ORDER BY collected_at, measured_time LIMIT ?
                    """)
            var times: [Int64] = []
            var values: [Double] = []
            try Self.forEachRow(of: statement, db, arguments: [sensor, from.microseconds, to.microseconds, limit]) { stmt in
                times.append(sqlite3_column_int64(stmt, 0))
                values.append(sqlite3_column_double(stmt, 1))
            }
            return (times, values)
        }
    }

    public func sensorSpan(machineName: String, sensorNo: String) async throws -> ClosedRange<Timestamp>? {
        try await pool.read { db in
            guard let sensor = try Self.existingSensorID(db, machineName: machineName, sensorNo: sensorNo),
                let low = try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT min(collected_at) FROM vibration_samples WHERE sensor_id = ?"), arguments: [sensor]),
                let high = try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT max(collected_at) FROM vibration_samples WHERE sensor_id = ?"), arguments: [sensor])
            else { return nil }
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT min(recording_start + CAST(round(time_low * 1000000) AS INTEGER)),
                               max(recording_start + CAST(round(time_high * 1000000) AS INTEGER)),
                               min(collected_low), max(collected_high)
                        FROM recording_extents WHERE sensor_id = ?
                        """), arguments: [sensor])
            return InstantSeries.span(
                collected: low...max(low, high),
                extents: .init(instantLow: row?[0], instantHigh: row?[1], collectedLow: row?[2], collectedHigh: row?[3]))
        }
    }

    public func recordingExtents(machineName: String, sensorNo: String, from: Timestamp, to: Timestamp) async throws
        -> [RecordingExtent]?
    {
        try await pool.read { db in
            try Self.existingSensorID(db, machineName: machineName, sensorNo: sensorNo).map { try Self.extents(db, sensor: $0, from: from, to: to) }
        }
    }

    public func samples(of extent: RecordingExtent, measuredTimes: ClosedRange<Double>, after cursor: SampleCursor?, limit: Int)
        async throws -> [StoredSample]
    {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.sampleColumns) FROM vibration_samples v JOIN sensors s ON s.id = v.sensor_id
                    WHERE v.sensor_id = ? AND v.collected_at BETWEEN ? AND ? AND v.measured_time BETWEEN ? AND ?
                      AND (v.measured_time, v.id) > (?, ?)
                    ORDER BY v.measured_time, v.id LIMIT ?
                    """,
                arguments: [
                    extent.sensorID, extent.collectedLow, extent.collectedHigh, measuredTimes.lowerBound, measuredTimes.upperBound,
                    cursor?.measuredTime ?? -Double.greatestFiniteMagnitude, cursor?.id ?? Int64.min, limit,
                ]
            ).map(Self.storedSample)
        }
    }

    /// The recordings of a sensor whose instants meet the range, by start.
    static func extents(_ db: Database, sensor: Int64, from: Timestamp, to: Timestamp) throws -> [RecordingExtent] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT recording_start, time_low, time_high, collected_low, collected_high, clock_offset
                    FROM recording_extents WHERE sensor_id = ? AND recording_start <= ? ORDER BY recording_start
                    """), arguments: [sensor, to.microseconds]
        ).map { row in
            RecordingExtent(
                sensorID: sensor, start: row[0], timeLow: row[1], timeHigh: row[2], collectedLow: row[3], collectedHigh: row[4],
                clockOffset: row[5])
        }.filter { $0.meets(from: from.microseconds, to: to.microseconds) }
    }

    /// The sensor's samples in an instant range read recording by recording, when some recording
    /// there is not stamped at its instants (see `InstantSeries`); nil when collected_at places them.
    static func seriesByRecording(
        _ db: Database, sensor: Int64, column: String, from: Timestamp, to: Timestamp, limit: Int
    ) throws -> (times: [Int64], values: [Double])? {
        let extents = try extents(db, sensor: sensor, from: from, to: to)
        guard InstantSeries.needed(extents) else { return nil }
        let statement = try db.cachedStatement(
            sql: """
                SELECT collected_at, measured_time, \(column) FROM vibration_samples
                WHERE sensor_id = ? AND collected_at BETWEEN ? AND ? AND measured_time BETWEEN ? AND ?
                ORDER BY measured_time LIMIT ?
                """)
        var parts: [(times: [Int64], values: [Double])] = []
        for extent in extents {
            guard let times = InstantSeries.times(of: extent, from: from.microseconds, to: to.microseconds) else { continue }
            var part = InstantSeries.Part(extent: extent, from: from.microseconds, to: to.microseconds)
            try forEachRow(
                of: statement, db,
                arguments: [sensor, extent.collectedLow, extent.collectedHigh, times.lowerBound, times.upperBound, limit]
            ) { stmt in
                part.add(
                    collectedAt: sqlite3_column_int64(stmt, 0), measuredTime: sqlite3_column_double(stmt, 1),
                    value: sqlite3_column_double(stmt, 2))
            }
            parts.append(part.series)
        }
        return InstantSeries.merge(parts, limit: limit)
    }

    public func waveform(
        machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, buckets: Int
    ) async throws -> Downsampling.Reduced? {
        // The channel names a column; it comes from the enum, never from a request.
        let column = channel.rawValue
        return try await drawWaveform(
            machineName: machineName, sensorNo: sensorNo, channel: channel, from: from, to: to, buckets: buckets,
            placed: {
                try await pool.read { db in
                    try Self.existingSensorID(db, machineName: machineName, sensorNo: sensorNo).flatMap {
                        try Self.seriesByRecording(db, sensor: $0, column: column, from: from, to: to, limit: WaveformSummary.sampleLimit)
                    }
                }
            }
        ) { level, firstBucket in
            // Up to ten rows a drawing bucket: a few hundred are read here, thousands through the pool.
            let rows = (to.microseconds - firstBucket) / WaveformSummary.levels[level] + 1
            return try await quickRead(short: rows <= 2_000) { db in
                guard let sensor = try Self.existingSensorID(db, machineName: machineName, sensorNo: sensorNo) else { return nil }
                let rows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT bucket, n, min_\(column), max_\(column) FROM waveform_summary
                        WHERE sensor_id = ? AND level = ? AND bucket BETWEEN ? AND ? ORDER BY bucket
                        """,
                    arguments: [sensor, level, firstBucket, to.microseconds])
                var summary: [Downsampling.Bucket] = []
                while let row = try rows.next() {
                    summary.append(Downsampling.Bucket(time: row[0], min: row[2], max: row[3], count: row[1]))
                }
                return summary
            }
        }
    }
}
