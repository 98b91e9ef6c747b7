import Logging
import NIOCore
import PostgresNIO
import VibrationCore

extension PostgresStore {
    public func ingest<Batches: AsyncSequence>(
        _ batches: Batches, committed: @Sendable (SampleBatch, IngestCounts) -> Void
    ) async throws -> IngestCounts where Batches.Element == SampleBatch {
        var sensorIDs: [Int64] = []
        var total = IngestCounts()
        for try await batch in batches {
            let known = sensorIDs
            let (ids, counts) = try await client.withTransaction(logger: logger) { connection in
                try await Self.store(batch, known: known, connection, logger: logger)
            }
            sensorIDs = ids
            total += counts
            committed(batch, counts)
        }
        return total
    }

    public func ingestAtomically(_ batches: [SampleBatch]) async throws -> IngestCounts {
        try await client.withTransaction(logger: logger) { connection in
            var ids: [Int64] = []
            var total = IngestCounts()
            for batch in batches {
                let (known, counts) = try await Self.store(batch, known: ids, connection, logger: logger)
                ids = known
                total += counts
            }
            return total
        }
    }

    static let stagingTable = "himmes_staging"

    /// One batch, inside the caller's transaction: COPY into the session's staging table (in
    /// parallel with other sessions), then, holding the write lock, the sensors, the month
    /// partitions and one statement that inserts what is new and adds it to the waveform summary.
    static func store(_ batch: SampleBatch, known: [Int64], _ connection: PostgresConnection, logger: Logger) async throws
        -> (sensorIDs: [Int64], counts: IngestCounts)
    {
        guard batch.count > 0 || !batch.newStreams.isEmpty else { return (known, IngestCounts()) }
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
            try await connection.copyFrom(table: stagingTable, logger: logger) { writer in
                try await CopyText.write(batch, to: writer)
            }
        }
        try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.writeLock))", logger: logger)
        var ids = known
        for key in batch.newStreams {
            ids.append(try await sensorID(connection, machineName: key.machineName, sensorNo: key.sensorNo, logger: logger))
        }
        guard batch.count > 0 else { return (ids, IngestCounts()) }
        // One time per UTC day the batch touches stands for its month.
        var days = Set<Int64>()
        for t in batch.collectedAt { days.insert(t - ((t % 86_400_000_000) + 86_400_000_000) % 86_400_000_000) }
        let dayTimes = days.map(Timestamp.init(microseconds:))
        try await connection.query("SELECT himmes_ensure_partitions(\(dayTimes))", logger: logger)
        let streams = Array(0..<Int32(ids.count))
        let rows = try await connection.query(
            """
            WITH map AS (SELECT * FROM unnest(\(streams)::integer[], \(ids)::bigint[]) AS m(stream, sensor_id)),
            ins AS (
                INSERT INTO vibration_data (machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
                SELECT s.machine_name, s.sensor_no, timestamptz 'epoch' + st.collected_at * interval '1 microsecond',
                       st.measured_time, st.normal, st.unbalance, st.looseness, st.unbalance_looseness
                FROM himmes_staging st JOIN map USING (stream) JOIN sensors s ON s.id = map.sensor_id
                ON CONFLICT DO NOTHING
                RETURNING machine_name, sensor_no, collected_at, normal, unbalance, looseness, unbalance_looseness
            ),
            inserted AS (
                SELECT s.id AS sensor_id, round(date_part('epoch', i.collected_at) * 1000000)::bigint AS micros,
                       i.normal, i.unbalance, i.looseness, i.unbalance_looseness
                FROM ins i JOIN sensors s ON s.machine_name = i.machine_name AND s.sensor_no = i.sensor_no
            ),
            \(unescaped: PostgresSchema.summaryUpsert)
            SELECT count(*) FROM inserted
            """, logger: logger)
        var inserted = 0
        for try await n in rows.decode(Int64.self) { inserted = Int(n) }
        return (ids, IngestCounts(inserted: inserted, duplicates: batch.count - inserted))
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
