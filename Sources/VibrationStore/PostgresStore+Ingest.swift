import Foundation
import Logging
import NIOCore
import PostgresNIO
import VibrationCore

extension PostgresStore {
    /// Two batches are in flight at once, each in its own transaction on its own connection: while
    /// one holds the write lock and inserts, the next is copied into its session's staging table.
    /// A batch takes the lock only after the one before it has committed, and gives up if that one
    /// failed, so batches commit in order and none after a failure.
    public func ingest<Batches: AsyncSequence>(
        _ batches: Batches, committed: @Sendable (SampleBatch, IngestCounts) -> Void
    ) async throws -> IngestCounts where Batches.Element == SampleBatch {
        typealias Done = (sequence: Int, batch: SampleBatch, counts: IngestCounts, days: Set<Int64>)
        var total = IngestCounts()
        var days = Set<Int64>()
        try await withThrowingTaskGroup(of: Done.self) { group in
            var previous: AsyncThrowingStream<[Int64], any Error>?
            var sequence = 0
            var finished: [Int: Done] = [:]
            var nextToReport = 0
            func report(_ done: Done) {
                finished[done.sequence] = done
                while let next = finished.removeValue(forKey: nextToReport) {
                    total += next.counts
                    if next.counts.inserted > 0 { days.formUnion(next.days) }
                    committed(next.batch, next.counts)
                    nextToReport += 1
                }
            }
            // On a failure, the batches still in flight finish (or fail) and are reported before it
            // is thrown: the caller learns exactly which batches were stored.
            var failure: (any Error)?
            do {
                for try await batch in batches {
                    if sequence - nextToReport >= 2, let done = try await group.next() { report(done) }
                    let (turn, handOver) = AsyncThrowingStream<[Int64], any Error>.makeStream()
                    let (connected, signalConnected) = AsyncStream<Void>.makeStream()
                    let before = previous
                    let number = sequence
                    group.addTask {
                        let days = Self.days(of: batch)
                        do {
                            let (ids, counts) = try await self.client.withTransaction(logger: self.logger) { connection in
                                signalConnected.finish()
                                try await Self.stage(batch, connection, logger: self.logger)
                                var known: [Int64] = []
                                if let before {
                                    for try await ids in before { known = ids }
                                }
                                return try await Self.insertStaged(batch, days: days, known: known, connection, logger: self.logger)
                            }
                            handOver.yield(ids)
                            handOver.finish()
                            return (number, batch, counts, days)
                        } catch {
                            signalConnected.finish()
                            handOver.finish(throwing: error)
                            throw error
                        }
                    }
                    // The next batch asks the pool for a connection only once this one has one: a
                    // batch holding a connection while it waits for one still waiting for a
                    // connection could, across many uploads, hold every connection of the pool.
                    for await _ in connected {}
                    previous = turn
                    sequence += 1
                }
            } catch {
                failure = error
            }
            while true {
                do {
                    guard let done = try await group.next() else { break }
                    report(done)
                } catch {
                    failure = failure ?? error
                }
            }
            if let failure { throw failure }
        }
        try await analyzeAfterLoad(total, days: days)
        return total
    }

    /// Rows loaded in one call from which the month partitions' statistics are brought up to date
    /// at once rather than at autovacuum's next round: until then the planner may scan where it
    /// should probe.
    static let analyzeAfterRows = 100_000

    func analyzeAfterLoad(_ counts: IngestCounts, days: Set<Int64>) async throws {
        guard counts.inserted >= Self.analyzeAfterRows else { return }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let partitions = Set(days.map { day -> String in
            let date = calendar.dateComponents([.year, .month], from: Date(timeIntervalSince1970: Double(day / 1_000_000)))
            return String(format: "vibration_data_%04dm%02d", date.year ?? 0, date.month ?? 0)
        })
        try await query(PostgresQuery(unsafeSQL: "ANALYZE " + partitions.sorted().map { "\"\($0)\"" }.joined(separator: ", ")))
    }

    /// The starts (microseconds since 1970, UTC) of the days a batch's rows fall on: each stands for
    /// its month when partitions are made and analysed.
    static func days(of batch: SampleBatch) -> Set<Int64> {
        var days = Set<Int64>()
        var last = Int64.min
        for t in batch.collectedAt {
            let day = WaveformSummary.bucket(t, 86_400_000_000)
            if day != last {
                days.insert(day)
                last = day
            }
        }
        return days
    }

    public func ingestAtomically(_ batches: [SampleBatch]) async throws -> IngestCounts {
        let (total, days) = try await client.withTransaction(logger: logger) { connection in
            var ids: [Int64] = []
            var total = IngestCounts()
            var days = Set<Int64>()
            for batch in batches {
                let batchDays = Self.days(of: batch)
                try await Self.stage(batch, connection, logger: logger)
                let (known, counts) = try await Self.insertStaged(batch, days: batchDays, known: ids, connection, logger: logger)
                ids = known
                total += counts
                days.formUnion(batchDays)
            }
            return (total, days)
        }
        try await analyzeAfterLoad(total, days: days)
        return total
    }

    /// Copies the batch's rows into the session's staging table (emptied first: an atomic load
    /// stages several batches in one transaction).
    static func stage(_ batch: SampleBatch, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            CREATE TEMP TABLE IF NOT EXISTS himmes_staging (
                stream integer NOT NULL, collected_at bigint NOT NULL, measured_time double precision NOT NULL,
                normal double precision NOT NULL, unbalance double precision NOT NULL, looseness double precision NOT NULL,
                unbalance_looseness double precision NOT NULL
            ) ON COMMIT DELETE ROWS
            """, logger: logger)
        try await connection.query("TRUNCATE himmes_staging", logger: logger)
        if batch.count > 0 {
            try await connection.copyFrom(table: "himmes_staging", logger: logger) { writer in
                try await CopyText.write(batch, to: writer)
            }
        }
    }

    /// Stores the staged batch, holding the write lock until the caller's transaction ends: then
    /// the sensors, the month partitions of `days` (see `days(of:)`), and one statement that inserts
    /// what is new and adds it to the waveform summary.
    static func insertStaged(
        _ batch: SampleBatch, days: Set<Int64>, known: [Int64], _ connection: PostgresConnection, logger: Logger
    ) async throws
        -> (sensorIDs: [Int64], counts: IngestCounts)
    {
        guard batch.count > 0 || !batch.newStreams.isEmpty else { return (known, IngestCounts()) }
        try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.writeLock))", logger: logger)
        var ids = known
        for key in batch.newStreams {
            ids.append(try await sensorID(connection, machineName: key.machineName, sensorNo: key.sensorNo, logger: logger))
        }
        guard batch.count > 0 else { return (ids, IngestCounts()) }
        try await connection.query("SELECT himmes_ensure_partitions(\(days.map(Timestamp.init(microseconds:))))", logger: logger)
        let streams = Array(0..<Int32(ids.count))
        if try await !overlapsStoredSamples(batch, sensorIDs: ids, connection, logger: logger) {
            // Nothing stored falls in the batch's time range on any of its sensors: a plain INSERT
            // (half the cost of one that checks each row for a conflict) and the summary computed
            // here. Duplicates within the batch, or rows a writer outside himmes slipped in, make it
            // fail at the identity key: then the checking statement below does the work.
            try await connection.query("SAVEPOINT himmes_plain_insert", logger: logger)
            do {
                try await connection.query(
                    """
                    WITH map AS (SELECT * FROM unnest(\(streams)::integer[], \(ids)::bigint[]) AS m(stream, sensor_id))
                    INSERT INTO vibration_data
                        (sensor_id, machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
                    SELECT s.id, s.machine_name, s.sensor_no, timestamptz 'epoch' + st.collected_at * interval '1 microsecond',
                           st.measured_time, st.normal, st.unbalance, st.looseness, st.unbalance_looseness
                    FROM himmes_staging st JOIN map USING (stream) JOIN sensors s ON s.id = map.sensor_id
                    """, logger: logger)
                var summary = WaveformSummary.Accumulator()
                for i in 0..<batch.count {
                    summary.add(
                        sensor: ids[Int(batch.stream[i])], at: batch.collectedAt[i],
                        SIMD4(batch.normal[i], batch.unbalance[i], batch.looseness[i], batch.unbalanceLooseness[i]))
                }
                try await writeSummary(summary.rows(), connection, logger: logger)
                try await connection.query("RELEASE SAVEPOINT himmes_plain_insert", logger: logger)
                return (ids, IngestCounts(inserted: batch.count, duplicates: 0))
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                try await connection.query("ROLLBACK TO SAVEPOINT himmes_plain_insert", logger: logger)
            }
        }
        let rows = try await connection.query(
            """
            WITH map AS (SELECT * FROM unnest(\(streams)::integer[], \(ids)::bigint[]) AS m(stream, sensor_id)),
            ins AS (
                INSERT INTO vibration_data
                    (sensor_id, machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
                SELECT s.id, s.machine_name, s.sensor_no, timestamptz 'epoch' + st.collected_at * interval '1 microsecond',
                       st.measured_time, st.normal, st.unbalance, st.looseness, st.unbalance_looseness
                FROM himmes_staging st JOIN map USING (stream) JOIN sensors s ON s.id = map.sensor_id
                ON CONFLICT DO NOTHING
                RETURNING sensor_id, collected_at, normal, unbalance, looseness, unbalance_looseness
            ),
            inserted AS (
                SELECT sensor_id, round(date_part('epoch', collected_at) * 1000000)::bigint AS micros,
                       normal, unbalance, looseness, unbalance_looseness
                FROM ins
            ),
            \(unescaped: PostgresSchema.summaryUpsert)
            SELECT count(*) FROM inserted
            """, logger: logger)
        let inserted = Int(try await rows.first(Int64.self) ?? 0)
        return (ids, IngestCounts(inserted: inserted, duplicates: batch.count - inserted))
    }
}

extension PostgresStore {
    /// Whether any stored sample of the batch's sensors falls within the batch's time range on that
    /// sensor: one probe of the identity key per sensor (asked as the first time at or after the
    /// range's start, which PostgreSQL reads from the key whatever its statistics say).
    static func overlapsStoredSamples(_ batch: SampleBatch, sensorIDs: [Int64], _ connection: PostgresConnection, logger: Logger)
        async throws -> Bool
    {
        var low = [Int64](repeating: .max, count: sensorIDs.count)
        var high = [Int64](repeating: .min, count: sensorIDs.count)
        for i in 0..<batch.count {
            let s = Int(batch.stream[i])
            low[s] = min(low[s], batch.collectedAt[i])
            high[s] = max(high[s], batch.collectedAt[i])
        }
        let used = sensorIDs.indices.filter { low[$0] <= high[$0] }
        let rows = try await connection.query(
            """
            SELECT EXISTS (
                SELECT 1 FROM unnest(\(used.map { sensorIDs[$0] })::bigint[], \(used.map { Timestamp(microseconds: low[$0]) })::timestamptz[],
                                     \(used.map { Timestamp(microseconds: high[$0]) })::timestamptz[]) AS r(sensor_id, low, high)
                WHERE (SELECT min(collected_at) FROM vibration_data v WHERE v.sensor_id = r.sensor_id AND v.collected_at >= r.low) <= r.high)
            """, logger: logger)
        return try await rows.first(Bool.self) ?? true
    }

    /// Adds summary rows made in memory to the stored summary.
    static func writeSummary(
        _ rows: [(level: Int, key: WaveformSummary.Accumulator.Key, extremes: WaveformSummary.Accumulator.Extremes)],
        _ connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !rows.isEmpty else { return }
        let channels = WaveformSummary.channels
        var binds = PostgresBindings()
        binds.append(rows.map { Int64($0.key.sensor) })
        binds.append(rows.map { $0.level })
        binds.append(rows.map { $0.key.bucket })
        binds.append(rows.map { $0.extremes.n })
        for c in 0..<channels.count {
            binds.append(rows.map { $0.extremes.low[c] })
            binds.append(rows.map { $0.extremes.high[c] })
        }
        let arrays = ["$1::bigint[]", "$2::integer[]", "$3::bigint[]", "$4::bigint[]"]
            + (0..<(2 * channels.count)).map { "$\($0 + 5)::float8[]" }
        let columns = "sensor_id, level, bucket, n, " + channels.map { "min_\($0), max_\($0)" }.joined(separator: ", ")
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO waveform_summary AS w (\(columns))
                    SELECT * FROM unnest(\(arrays.joined(separator: ", ")))
                    ON CONFLICT (sensor_id, level, bucket) DO UPDATE SET n = w.n + excluded.n,
                    \(channels.map { "min_\($0) = least(w.min_\($0), excluded.min_\($0)), max_\($0) = greatest(w.max_\($0), excluded.max_\($0))" }.joined(separator: ",\n"))
                    """, binds: binds), logger: logger)
    }
}

/// Rows in PostgreSQL's COPY text format, written in buffers of a few hundred kilobytes.
enum CopyText {
    static let bufferBytes = 512 << 10

    static func write(_ batch: SampleBatch, to writer: PostgresCopyFromWriter) async throws {
        var buffer = ByteBufferAllocator().buffer(capacity: bufferBytes + 1024)
        for i in 0..<batch.count {
            writeInteger(Int64(batch.stream[i]), to: &buffer)
            buffer.writeInteger(UInt8(ascii: "\t"))
            writeInteger(batch.collectedAt[i], to: &buffer)
            for value in [batch.measuredTime[i], batch.normal[i], batch.unbalance[i], batch.looseness[i], batch.unbalanceLooseness[i]] {
                buffer.writeInteger(UInt8(ascii: "\t"))
                // The shortest text that reads back as the same double.
                buffer.writeString(value.description)
            }
            buffer.writeInteger(UInt8(ascii: "\n"))
            if buffer.readableBytes >= bufferBytes {
                try await writer.write(buffer)
                buffer.clear()
            }
        }
        if buffer.readableBytes > 0 { try await writer.write(buffer) }
    }

    /// Decimal digits without making a String.
    @inline(__always)
    static func writeInteger(_ value: Int64, to buffer: inout ByteBuffer) {
        if value < 0 { buffer.writeInteger(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }
}
