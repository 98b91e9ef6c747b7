import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import VibrationCore

extension PostgresStore {
    static let sampleColumns = """
        id, machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness
        """
    typealias SampleRow = (Int64, String, String, Timestamp, Double, Double, Double, Double, Double)

    static func storedSample(_ r: SampleRow) -> StoredSample {
        StoredSample(
            id: r.0,
            sample: VibrationSample(
                machineName: r.1, sensorNo: r.2, collectedAt: r.3, measuredTime: r.4, normal: r.5, unbalance: r.6,
                looseness: r.7, unbalanceLooseness: r.8))
    }

    /// The sensor's id, made on first sight.
    static func sensorID(_ connection: PostgresConnection, machineName: String, sensorNo: String, logger: Logger) async throws -> Int64 {
        let rows = try await connection.query(
            """
            WITH made AS (
                INSERT INTO sensors (machine_name, sensor_no) VALUES (\(machineName), \(sensorNo))
                ON CONFLICT DO NOTHING RETURNING id)
            SELECT id FROM made UNION ALL
            SELECT id FROM sensors WHERE machine_name = \(machineName) AND sensor_no = \(sensorNo)
            """, logger: logger)
        if let id = try await rows.first(Int64.self) { return id }
        throw PostgresStoreError.unexpected("the sensor row of \(machineName)/\(sensorNo) vanished")
    }

    public func insert(_ sample: VibrationSample) async throws -> StoredSample {
        let result: Result<Int64, StoreError> = try await writing { connection in
            let sensor = try await Self.sensorID(connection, machineName: sample.machineName, sensorNo: sample.sensorNo, logger: logger)
            try await connection.query(
                "SELECT himmes_ensure_partitions(ARRAY[\(sample.collectedAt)]::timestamptz[])", logger: logger)
            let inserted = try await connection.query(
                """
                INSERT INTO vibration_data
                    (sensor_id, machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
                VALUES (\(sensor), \(sample.machineName), \(sample.sensorNo), \(sample.collectedAt), \(sample.measuredTime), \(sample.normal),
                        \(sample.unbalance), \(sample.looseness), \(sample.unbalanceLooseness))
                ON CONFLICT DO NOTHING RETURNING id
                """, logger: logger)
            guard let id = try await inserted.first(Int64.self) else {
                let existing = try await connection.query(
                    """
                    SELECT id FROM vibration_data WHERE sensor_id = \(sensor) AND collected_at = \(sample.collectedAt) AND measured_time = \(sample.measuredTime)
                    """, logger: logger)
                return .failure(.duplicateSample(existingID: try await existing.first(Int64.self) ?? 0))
            }
            var summary = WaveformSummary.Accumulator()
            summary.add(
                sensor: sensor, at: sample.collectedAt.microseconds,
                SIMD4(sample.normal, sample.unbalance, sample.looseness, sample.unbalanceLooseness))
            try await Self.writeSummary(summary.rows(), connection, logger: logger)
            return .success(id)
        }
        return StoredSample(id: try result.get(), sample: sample)
    }

    public func sample(id: Int64) async throws -> StoredSample? {
        try await allByID("SELECT \(unescaped: Self.sampleColumns) FROM vibration_data WHERE id = \(id)", SampleRow.self)
            .first.map(Self.storedSample)
    }

    /// Each sensor's samples come in time order from the identity key; the first `limit` of each are
    /// read and merged, so that a page never sorts more than sensors x limit rows. Within a sensor
    /// (collected_at, measured_time) is unique, so its rows are ordered by exactly the key's columns,
    /// and PostgreSQL reads them from the key even before it has statistics.
    public func samples(matching filter: SampleFilter, after cursor: SampleCursor?, limit: Int) async throws -> [StoredSample] {
        var binds = PostgresBindings()
        func bind<V: PostgresNonThrowingEncodable & Sendable>(_ value: V) -> String { binds.placeholder(value) }
        let sensorConditions = filter.sensorPredicate.postgres(prefix: "s.", binds: &binds)
        var conditions = ["v.sensor_id = s.id"] + filter.timePredicate.postgres(prefix: "v.", binds: &binds)
        let (keyword, after) = filter.order.sql
        if let cursor {
            let at = bind(cursor.collectedAt)
            let time = bind(cursor.measuredTime)
            let id = bind(cursor.id)
            // The first comparison bounds the index scan; the second breaks ties by id.
            conditions.append("(v.collected_at, v.measured_time) \(after)= (\(at), \(time))")
            conditions.append("(v.collected_at, v.measured_time, v.id) \(after) (\(at), \(time), \(id))")
        }
        let n = bind(limit)
        let order = "collected_at \(keyword), measured_time \(keyword), id \(keyword)"
        let sql = """
            SELECT \(Self.sampleColumns.split(separator: ",").map { "page." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", "))
            FROM sensors s CROSS JOIN LATERAL (
                SELECT v.* FROM vibration_data v WHERE \(conditions.joined(separator: " AND "))
                ORDER BY v.collected_at \(keyword), v.measured_time \(keyword) LIMIT \(n)) AS page
            \(sensorConditions.isEmpty ? "" : "WHERE " + sensorConditions.joined(separator: " AND "))
            ORDER BY \(order) LIMIT \(n)
            """
        return try await all(PostgresQuery(unsafeSQL: sql, binds: binds), SampleRow.self).map(Self.storedSample)
    }

    public func samplesByMeasuredTime(machineName: String, sensorNo: String, within range: ClosedRange<Double>, limit: Int)
        async throws -> [StoredSample]
    {
        guard let sensor = try await sensorID(machineName: machineName, sensorNo: sensorNo) else { return [] }
        return try await all(
            """
            SELECT \(unescaped: Self.sampleColumns) FROM vibration_data
            WHERE sensor_id = \(sensor) AND measured_time BETWEEN \(range.lowerBound) AND \(range.upperBound)
            ORDER BY measured_time, collected_at, id LIMIT \(limit)
            """, SampleRow.self
        ).map(Self.storedSample)
    }

    public func series(
        machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, limit: Int
    ) async throws -> (times: [Int64], values: [Double])? {
        guard let sensor = try await sensorID(machineName: machineName, sensorNo: sensorNo) else { return nil }
        if let placed = try await seriesByRecording(sensor: sensor, channel: channel, from: from, to: to, limit: limit) {
            return placed
        }
        var times: [Int64] = []
        var values: [Double] = []
        // The channel names a column; it comes from the enum, never from a request.
        let rows = try await query(
            """
            SELECT collected_at, \(unescaped: channel.rawValue) FROM vibration_data
            WHERE sensor_id = \(sensor) AND collected_at BETWEEN \(from) AND \(to)
            ORDER BY collected_at, measured_time LIMIT \(limit)
            """)
        for try await (time, value) in rows.decode((Timestamp, Double).self) {
            times.append(time.microseconds)
            values.append(value)
        }
        return (times, values)
    }

    func sensorID(machineName: String, sensorNo: String) async throws -> Int64? {
        try await one("SELECT id FROM sensors WHERE machine_name = \(machineName) AND sensor_no = \(sensorNo)", Int64.self)
    }

    public func recordingExtents(machineName: String, sensorNo: String, from: Timestamp, to: Timestamp) async throws
        -> [RecordingExtent]?
    {
        guard let sensor = try await sensorID(machineName: machineName, sensorNo: sensorNo) else { return nil }
        return try await extents(sensor: sensor, from: from, to: to)
    }

    public func samples(of extent: RecordingExtent, measuredTimes: ClosedRange<Double>, after cursor: SampleCursor?, limit: Int)
        async throws -> [StoredSample]
    {
        try await all(
            """
            SELECT \(unescaped: Self.sampleColumns) FROM vibration_data
            WHERE sensor_id = \(extent.sensorID)
              AND collected_at BETWEEN \(Timestamp(microseconds: extent.collectedLow)) AND \(Timestamp(microseconds: extent.collectedHigh))
              AND measured_time BETWEEN \(measuredTimes.lowerBound) AND \(measuredTimes.upperBound)
              AND (measured_time, id) > (\(cursor?.measuredTime ?? -Double.greatestFiniteMagnitude), \(cursor?.id ?? Int64.min))
            ORDER BY measured_time, id LIMIT \(limit)
            """, SampleRow.self
        ).map(Self.storedSample)
    }

    /// The recordings of a sensor whose instants meet the range, by start.
    func extents(sensor: Int64, from: Timestamp, to: Timestamp) async throws -> [RecordingExtent] {
        try await all(
            """
            SELECT recording_start, time_low, time_high, collected_low, collected_high, clock_offset
            FROM recording_extents WHERE sensor_id = \(sensor) AND recording_start <= \(to.microseconds) ORDER BY recording_start
            """, (Int64, Double, Double, Int64, Int64, Int64).self
        ).map { start, low, high, collectedLow, collectedHigh, offset in
            RecordingExtent(
                sensorID: sensor, start: start, timeLow: low, timeHigh: high, collectedLow: collectedLow, collectedHigh: collectedHigh,
                clockOffset: offset)
        }.filter { $0.meets(from: from.microseconds, to: to.microseconds) }
    }

    /// The sensor's samples in an instant range read recording by recording, when some recording
    /// there is not stamped at its instants (see `InstantSeries`); nil when collected_at places them.
    func seriesByRecording(sensor: Int64, channel: SignalChannel, from: Timestamp, to: Timestamp, limit: Int) async throws
        -> (times: [Int64], values: [Double])?
    {
        let extents = try await extents(sensor: sensor, from: from, to: to)
        guard InstantSeries.needed(extents) else { return nil }
        var parts: [(times: [Int64], values: [Double])] = []
        for extent in extents {
            guard let times = InstantSeries.times(of: extent, from: from.microseconds, to: to.microseconds) else { continue }
            var part = InstantSeries.Part(extent: extent, from: from.microseconds, to: to.microseconds)
            // The channel names a column; it comes from the enum, never from a request.
            let rows = try await query(
                """
                SELECT round(date_part('epoch', collected_at) * 1000000)::bigint, measured_time, \(unescaped: channel.rawValue)
                FROM vibration_data
                WHERE sensor_id = \(sensor)
                  AND collected_at BETWEEN \(Timestamp(microseconds: extent.collectedLow)) AND \(Timestamp(microseconds: extent.collectedHigh))
                  AND measured_time BETWEEN \(times.lowerBound) AND \(times.upperBound)
                ORDER BY measured_time LIMIT \(limit)
                """)
            for try await (collected, t, value) in rows.decode((Int64, Double, Double).self) {
                part.add(collectedAt: collected, measuredTime: t, value: value)
            }
            parts.append(part.series)
        }
        return InstantSeries.merge(parts, limit: limit)
    }

    public func sensorSpan(machineName: String, sensorNo: String) async throws -> ClosedRange<Timestamp>? {
        guard let sensor = try await sensorID(machineName: machineName, sensorNo: sensorNo),
            let (low, high, instantLow, instantHigh, extentLow, extentHigh) = try await all(
                """
                SELECT (SELECT round(date_part('epoch', min(collected_at)) * 1000000)::bigint FROM vibration_data WHERE sensor_id = \(sensor)),
                       (SELECT round(date_part('epoch', max(collected_at)) * 1000000)::bigint FROM vibration_data WHERE sensor_id = \(sensor)),
                       min(recording_start + round(time_low * 1000000)::bigint), max(recording_start + round(time_high * 1000000)::bigint),
                       min(collected_low), max(collected_high)
                FROM recording_extents WHERE sensor_id = \(sensor)
                """, (Int64?, Int64?, Int64?, Int64?, Int64?, Int64?).self
            ).first,
            let low, let high
        else { return nil }
        return InstantSeries.span(
            collected: low...max(low, high),
            extents: .init(instantLow: instantLow, instantHigh: instantHigh, collectedLow: extentLow, collectedHigh: extentHigh))
    }

    public func waveform(
        machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, buckets: Int
    ) async throws -> Downsampling.Reduced? {
        // The channel names a column; it comes from the enum, never from a request.
        let column = channel.rawValue
        return try await drawWaveform(
            machineName: machineName, sensorNo: sensorNo, channel: channel, from: from, to: to, buckets: buckets,
            placed: {
                guard let sensor = try await sensorID(machineName: machineName, sensorNo: sensorNo) else { return nil }
                return try await seriesByRecording(sensor: sensor, channel: channel, from: from, to: to, limit: WaveformSummary.sampleLimit)
            }
        ) { level, firstBucket in
            guard let sensor = try await sensorID(machineName: machineName, sensorNo: sensorNo) else { return nil }
            let rows = try await query(
                """
                SELECT bucket, n, min_\(unescaped: column), max_\(unescaped: column) FROM waveform_summary
                WHERE sensor_id = \(sensor) AND level = \(level) AND bucket BETWEEN \(firstBucket) AND \(to.microseconds)
                ORDER BY bucket
                """)
            var summary: [Downsampling.Bucket] = []
            for try await (bucket, n, low, high) in rows.decode((Int64, Int64, Double, Double).self) {
                summary.append(Downsampling.Bucket(time: bucket, min: low, max: high, count: Int(n)))
            }
            return summary
        }
    }
}
