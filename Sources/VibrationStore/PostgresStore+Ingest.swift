import Foundation
import Logging
import NIOCore
import PostgresNIO
import VibrationCore

extension PostgresStore {
    /// Two batches are in flight at once, each in its own transaction on its own connection: while
    /// one holds the write lock and inserts, the next is read and, when it may hold samples already
    /// stored, copied into its session's staging table. A batch takes the lock only after the one
    /// before it has committed, and gives up if that one failed, so batches commit in order and
    /// none after a failure.
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
            // Every batch's sensors so far: a batch's `stream` numbers index this list.
            var keys: [StreamKey] = []
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
                    keys += batch.newStreams
                    let streams = keys
                    group.addTask {
                        let days = Self.days(of: batch)
                        do {
                            let (ids, counts) = try await self.client.withConnection { connection in
                                signalConnected.finish()
                                // Staged while the batch before is inserted, when a quick look finds stored
                                // samples in its time range (a file loaded again); else copied straight
                                // into the table once it holds the lock. The look is made before the
                                // transaction: a lock it kept on vibration_data while this batch waits for
                                // the one before would keep that one from making a month's partition.
                                let staged = try await Self.overlapsStoredSamples(batch, keys: streams, connection, logger: self.logger)
                                // The id index's ranges the batches before filled are summed up while the
                                // batch before is written, so that a long load leaves few for its end.
                                if number > 0 {
                                    try await connection.query("SELECT himmes_summarize_new_ranges()", logger: self.logger)
                                }
                                return try await connection.withTransaction(logger: self.logger) { connection in
                                    if staged { try await Self.stage(batch, connection, logger: self.logger) }
                                    let summary = staged ? [] : Self.summary(of: batch)
                                    var known: [Int64] = []
                                    if let before {
                                        for try await ids in before { known = ids }
                                    }
                                    return try await Self.insert(
                                        batch, keys: streams, days: days, known: known, staged: staged, summary: summary, connection,
                                        logger: self.logger)
                                }
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

    /// Rows loaded in one call from which the month partitions' statistics, and the id index's
    /// block ranges, are brought up to date at once rather than at autovacuum's next round: until
    /// then the planner may scan where it should probe, and a query on ids reads the new rows whole.
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
        _ = try await one("SELECT himmes_summarize_new_ranges()", Int32.self)
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
            var keys: [StreamKey] = []
            var total = IngestCounts()
            var days = Set<Int64>()
            for batch in batches {
                let batchDays = Self.days(of: batch)
                keys += batch.newStreams
                let (known, counts) = try await Self.insert(
                    batch, keys: keys, days: batchDays, known: ids, staged: false, summary: Self.summary(of: batch), connection,
                    logger: logger)
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

    typealias SummaryRow = (level: Int, key: WaveformSummary.Accumulator.Key, extremes: WaveformSummary.Accumulator.Extremes)

    /// The batch's waveform summary with its stream numbers in place of sensor ids (which new
    /// sensors get only under the write lock): summed up before the batch waits for the lock.
    static func summary(of batch: SampleBatch) -> [SummaryRow] {
        var summary = WaveformSummary.Accumulator()
        for i in 0..<batch.count {
            summary.add(
                sensor: Int64(batch.stream[i]), at: batch.collectedAt[i],
                SIMD4(batch.normal[i], batch.unbalance[i], batch.looseness[i], batch.unbalanceLooseness[i]))
        }
        return summary.rows()
    }

    /// Stores the batch, holding the write lock until the caller's transaction ends: makes its
    /// sensors and the month partitions of `days` (see `days(of:)`), then copies its rows straight
    /// into the table and adds them to the waveform summary as summed up here. A row already
    /// stored, or one repeated within the batch, makes that copy fail at the identity key; then, as
    /// for a batch found to overlap stored samples before (`staged`: it is in the staging table
    /// already), one statement inserts from the staging table what is new and adds it to the
    /// summary.
    static func insert(
        _ batch: SampleBatch, keys: [StreamKey], days: Set<Int64>, known: [Int64], staged: Bool, summary: [SummaryRow],
        _ connection: PostgresConnection, logger: Logger
    ) async throws
        -> (sensorIDs: [Int64], counts: IngestCounts)
    {
        guard batch.count > 0 || !batch.newStreams.isEmpty else { return (known, IngestCounts()) }
        try await connection.query("SELECT pg_advisory_xact_lock(\(unescaped: PostgresSchema.writeLock))", logger: logger)
        var ids = known
        for key in batch.newStreams {
            ids.append(try await sensorID(connection, machineName: key.machineName, sensorNo: key.sensorNo, logger: logger))
        }
        guard batch.count > 0 else { return (ids, IngestCounts()) }
        try await connection.query("SELECT himmes_ensure_partitions(\(days.map(Timestamp.init(microseconds:))))", logger: logger)
        let streams = Array(0..<Int32(ids.count))
        if !staged {
            try await connection.query("SAVEPOINT himmes_copy", logger: logger)
            do {
                try await connection.copyFrom(table: CopyBinary.samplesStatement, logger: logger) { writer in
                    try await CopyBinary.write(batch, keys: keys, sensorIDs: ids, to: writer)
                }
                let rows = summary.map { row in
                    var row = row
                    row.key.sensor = ids[Int(row.key.sensor)]
                    return row
                }
                try await writeSummary(rows, connection, logger: logger)
                try await connection.query("RELEASE SAVEPOINT himmes_copy", logger: logger)
                return (ids, IngestCounts(inserted: batch.count, duplicates: 0))
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                try await connection.query("ROLLBACK TO SAVEPOINT himmes_copy", logger: logger)
            }
        }
        if !staged { try await stage(batch, connection, logger: logger) }
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
    /// range's start, which PostgreSQL reads from the key whatever its statistics say). Sensors
    /// not made yet have nothing stored.
    static func overlapsStoredSamples(_ batch: SampleBatch, keys: [StreamKey], _ connection: PostgresConnection, logger: Logger)
        async throws -> Bool
    {
        guard batch.count > 0 else { return false }
        var low = [Int64](repeating: .max, count: keys.count)
        var high = [Int64](repeating: .min, count: keys.count)
        for i in 0..<batch.count {
            let s = Int(batch.stream[i])
            low[s] = min(low[s], batch.collectedAt[i])
            high[s] = max(high[s], batch.collectedAt[i])
        }
        let used = keys.indices.filter { low[$0] <= high[$0] }
        let rows = try await connection.query(
            """
            SELECT EXISTS (
                SELECT 1 FROM unnest(\(used.map { keys[$0].machineName })::text[], \(used.map { keys[$0].sensorNo })::text[],
                                     \(used.map { Timestamp(microseconds: low[$0]) })::timestamptz[],
                                     \(used.map { Timestamp(microseconds: high[$0]) })::timestamptz[]) AS r(machine_name, sensor_no, low, high)
                JOIN sensors s ON s.machine_name = r.machine_name AND s.sensor_no = r.sensor_no
                WHERE (SELECT min(collected_at) FROM vibration_data v WHERE v.sensor_id = s.id AND v.collected_at >= r.low) <= r.high)
            """, logger: logger)
        return try await rows.first(Bool.self) ?? true
    }

    /// Summary rows from which a write looks up which of them are stored already, copies the others
    /// in and merges only those (copying is about twice as fast as merging).
    static let copySummaryRows = 1_000

    /// Adds summary rows made in memory to the stored summary. Called holding the write lock, so no
    /// other himmes writer adds summary rows between the lookup and the copy; a tool's insert that
    /// does (through the trigger) makes the copy fail at the key.
    static func writeSummary(_ rows: [SummaryRow], _ connection: PostgresConnection, logger: Logger) async throws {
        guard !rows.isEmpty else { return }
        var merged = rows
        if rows.count >= copySummaryRows {
            let stored = try await storedSummaryKeys(of: rows, connection, logger: logger)
            var fresh: [SummaryRow] = []
            merged = []
            for row in rows {
                if stored.contains(SummaryKey(level: row.level, sensor: row.key.sensor, bucket: row.key.bucket)) {
                    merged.append(row)
                } else {
                    fresh.append(row)
                }
            }
            try await connection.copyFrom(table: CopyBinary.summaryStatement, logger: logger) { writer in
                try await CopyBinary.write(fresh, to: writer)
            }
        }
        guard !merged.isEmpty else { return }
        let channels = WaveformSummary.channels
        var binds = PostgresBindings()
        binds.append(merged.map { Int64($0.key.sensor) })
        binds.append(merged.map { $0.level })
        binds.append(merged.map { $0.key.bucket })
        binds.append(merged.map { $0.extremes.n })
        for c in 0..<channels.count {
            binds.append(merged.map { $0.extremes.low[c] })
            binds.append(merged.map { $0.extremes.high[c] })
        }
        let arrays = ["$1::bigint[]", "$2::integer[]", "$3::bigint[]", "$4::bigint[]"]
            + (0..<(2 * channels.count)).map { "$\($0 + 5)::float8[]" }
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO waveform_summary AS w (\(WaveformSummary.columns))
                    SELECT * FROM unnest(\(arrays.joined(separator: ", ")))
                    \(PostgresSchema.summaryMerge)
                    """, binds: binds), logger: logger)
    }

    struct SummaryKey: Hashable {
        var level: Int
        var sensor: Int64
        var bucket: Int64
    }

    /// The keys among `rows` that the summary holds: one range of the key per sensor and level.
    static func storedSummaryKeys(of rows: [SummaryRow], _ connection: PostgresConnection, logger: Logger) async throws
        -> Set<SummaryKey>
    {
        struct Series: Hashable {
            var level: Int
            var sensor: Int64
        }
        var ranges: [Series: (low: Int64, high: Int64)] = [:]
        for row in rows {
            let series = Series(level: row.level, sensor: row.key.sensor)
            let range = ranges[series] ?? (row.key.bucket, row.key.bucket)
            ranges[series] = (min(range.low, row.key.bucket), max(range.high, row.key.bucket))
        }
        let keys = Array(ranges.keys)
        let found = try await connection.query(
            """
            SELECT w.level, w.sensor_id, w.bucket
            FROM unnest(\(keys.map(\.sensor))::bigint[], \(keys.map(\.level))::integer[], \(keys.map { ranges[$0]!.low })::bigint[],
                        \(keys.map { ranges[$0]!.high })::bigint[]) AS r(sensor_id, level, low, high)
            JOIN waveform_summary w ON w.sensor_id = r.sensor_id AND w.level = r.level AND w.bucket BETWEEN r.low AND r.high
            """, logger: logger)
        var stored = Set<SummaryKey>()
        for try await (level, sensor, bucket) in found.decode((Int, Int64, Int64).self) {
            stored.insert(SummaryKey(level: level, sensor: sensor, bucket: bucket))
        }
        return stored
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

/// Rows in PostgreSQL's binary COPY format, straight into the tables: no number or time is
/// written out as text for the server to parse back.
enum CopyBinary {
    /// postgres-nio 1.33's `copyFrom` builds its statement as `COPY "<table>" FROM STDIN WITH
    /// (FORMAT text)` on one line and offers no binary format; the table argument is placed there
    /// unescaped, so this one closes the quote, names the columns, asks for the binary format and
    /// makes the rest of the line a comment. The ingest tests fail at once should the library
    /// build the statement differently.
    static func statement(table: String, columns: String) -> String {
        "\(table)\" (\(columns)) FROM STDIN WITH (FORMAT binary) --"
    }

    static let samplesStatement = statement(
        table: "vibration_data",
        columns: "machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness, sensor_id")
    static let summaryStatement = statement(table: "waveform_summary", columns: WaveformSummary.columns)

    /// PostgreSQL's times count microseconds from 2000-01-01 UTC.
    static let epochOffset: Int64 = 946_684_800_000_000

    static func write(_ batch: SampleBatch, keys: [StreamKey], sensorIDs: [Int64], to writer: PostgresCopyFromWriter) async throws {
        // Each sensor's two name fields, length-prefixed, made once.
        let names: [ByteBuffer] = keys.indices.map { s in
            var fields = ByteBuffer()
            for text in [keys[s].machineName, keys[s].sensorNo] {
                fields.writeInteger(Int32(text.utf8.count))
                fields.writeString(text)
            }
            return fields
        }
        try await write(rows: batch.count, to: writer) { i, buffer in
            let s = Int(batch.stream[i])
            buffer.writeInteger(Int16(9))
            buffer.writeImmutableBuffer(names[s])
            field(batch.collectedAt[i] - epochOffset, &buffer)
            field(batch.measuredTime[i].bitPattern, &buffer)
            field(batch.normal[i].bitPattern, &buffer)
            field(batch.unbalance[i].bitPattern, &buffer)
            field(batch.looseness[i].bitPattern, &buffer)
            field(batch.unbalanceLooseness[i].bitPattern, &buffer)
            field(sensorIDs[s], &buffer)
        }
    }

    static func write(_ rows: [PostgresStore.SummaryRow], to writer: PostgresCopyFromWriter) async throws {
        try await write(rows: rows.count, to: writer) { i, buffer in
            let row = rows[i]
            buffer.writeInteger(Int16(4 + 2 * WaveformSummary.channels.count))
            field(row.key.sensor, &buffer)
            buffer.writeInteger(Int32(4))
            buffer.writeInteger(Int32(row.level))
            field(row.key.bucket, &buffer)
            field(row.extremes.n, &buffer)
            for c in WaveformSummary.channels.indices {
                field(row.extremes.low[c].bitPattern, &buffer)
                field(row.extremes.high[c].bitPattern, &buffer)
            }
        }
    }

    /// The format's header, `rows` rows as `row` writes them, and its trailer, sent in buffers of a
    /// few hundred kilobytes.
    static func write(rows: Int, to writer: PostgresCopyFromWriter, _ row: (Int, inout ByteBuffer) -> Void) async throws {
        var buffer = ByteBufferAllocator().buffer(capacity: CopyText.bufferBytes + 1024)
        buffer.writeBytes(Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00])
        buffer.writeInteger(Int32(0))  // flags
        buffer.writeInteger(Int32(0))  // header extension
        for i in 0..<rows {
            row(i, &buffer)
            if buffer.readableBytes >= CopyText.bufferBytes {
                try await writer.write(buffer)
                buffer.clear()
            }
        }
        buffer.writeInteger(Int16(-1))
        try await writer.write(buffer)
    }

    /// An eight-byte field: its length, then the value, most significant byte first.
    @inline(__always)
    static func field<Value: FixedWidthInteger>(_ value: Value, _ buffer: inout ByteBuffer) {
        buffer.writeInteger(Int32(8))
        buffer.writeInteger(value)
    }
}
