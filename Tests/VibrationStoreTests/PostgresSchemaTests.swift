import Foundation
import PostgresNIO
import Testing
import VibrationCore

@testable import VibrationStore

@Suite("PostgreSQL schema", .enabled(if: Backend.hasPostgres, "HIMMES_TEST_POSTGRES_URL is not set: no PostgreSQL server to test"))
struct PostgresSchemaTests {
    func makeStore() async throws -> PostgresStore? {
        try await Backend.postgres.makeStore() as? PostgresStore
    }

    @Test("the write lock is the schema's: a store in another schema of the database writes while it is held", .timeLimit(.minutes(10)))
    func writeLockPerSchema() async throws {
        guard let held = try await makeStore(), let other = try await makeStore() else { return }
        defer {
            held.close()
            other.close()
        }
        let batches = try IngestTests().batches(rows: 2_000, rowsPerBatch: 1_000)
        // A session of the first store's schema takes its write lock and keeps it.
        let connection = try await PostgresConnection.connect(configuration: held.location.connectionConfiguration(), id: 9, logger: held.logger)
        try await connection.query("BEGIN", logger: held.logger)
        try await connection.query("SELECT pg_advisory_xact_lock(\(unescaped: PostgresSchema.writeLock))", logger: held.logger)
        let waiting = Task { try await held.ingest(IngestTests.Stream(items: batches)) { _, _ in }.inserted }
        let beside = Task { try await other.ingest(IngestTests.Stream(items: batches)) { _, _ in }.inserted }
        // The other schema's store writes meanwhile (reads take no lock).
        var stored = 0
        for _ in 0..<300 where stored < 2_000 {
            try await Task.sleep(for: .milliseconds(100))
            stored = try await other.sampleCount()
        }
        #expect(stored == 2_000)
        // The first store's own write waits for the lock, and goes through once it is let go.
        #expect(try await held.sampleCount() == 0)
        try await connection.query("COMMIT", logger: held.logger)
        #expect(try await waiting.value == 2_000)
        #expect(try await beside.value == 2_000)
        try await connection.close()
    }

    @Test("tools written for the original table insert into vibration_data; the identity stays unique")
    func originalInserts() async throws {
        guard let store = try await makeStore() else { return }
        defer { store.close() }
        let insert: PostgresQuery = """
            INSERT INTO vibration_data (machine_name, sensor_no, measured_time, normal, unbalance, looseness, unbalance_looseness)
            VALUES ('press', 's1', 0.5, 1, 2, 3, 4) RETURNING collected_at
            """
        // collected_at defaults to now, whose month has a partition; the sensor's id is filled in.
        let at = try #require(try await store.one(insert, Timestamp.self))
        let read = try await store.samples(matching: SampleFilter(machineName: "press"), after: nil, limit: 10)
        #expect(read.map(\.sample) == [
            VibrationSample(machineName: "press", sensorNo: "s1", collectedAt: at, measuredTime: 0.5, normal: 1, unbalance: 2, looseness: 3, unbalanceLooseness: 4)
        ])
        // The same identity again is refused by the database itself.
        let again: PostgresQuery = """
            INSERT INTO vibration_data (machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
            VALUES ('press', 's1', \(at), 0.5, 9, 9, 9, 9)
            """
        await #expect(throws: PSQLError.self) { try await store.query(again) }
        // What the store itself writes goes through the same key.
        await #expect(throws: StoreError.self) {
            _ = try await store.insert(VibrationSample(machineName: "press", sensorNo: "s1", collectedAt: at, measuredTime: 0.5, normal: 0, unbalance: 0, looseness: 0, unbalanceLooseness: 0))
        }
    }

    @Test("tools' inserts of several sensors at one time get each its sensor; a duplicate among them is refused whole")
    func originalInsertsOfSeveralSensors() async throws {
        guard let store = try await makeStore() else { return }
        defer { store.close() }
        let at = Timestamp(parsing: "2025-03-01T08:00:00Z")!
        try await store.query("SELECT himmes_ensure_partitions(ARRAY[\(at)]::timestamptz[])")
        try await store.query(
            """
            INSERT INTO vibration_data (machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
            VALUES ('press', 's1', \(at), 0, 1, 0, 0, 0), ('press', 's2', \(at), 0, 2, 0, 0, 0), ('fan', 's1', \(at), 0, 3, 0, 0, 0)
            """)
        let rows = try await store.samples(matching: SampleFilter(), after: nil, limit: 10)
        #expect(Set(rows.map { "\($0.sample.machineName)/\($0.sample.sensorNo)=\($0.sample.normal)" }) == ["press/s1=1.0", "press/s2=2.0", "fan/s1=3.0"])
        #expect(try await store.one("SELECT count(*) FROM vibration_data WHERE sensor_id < 0", Int64.self) == 0)
        await #expect(throws: PSQLError.self) {
            try await store.query(
                """
                INSERT INTO vibration_data (machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
                VALUES ('press', 's3', \(at), 0, 4, 0, 0, 0), ('fan', 's1', \(at), 0, 5, 0, 0, 0)
                """)
        }
        #expect(try await store.sampleCount() == 3)
    }

    @Test("bulk loads sharing summary buckets, single inserts and tools' inserts keep the waveform summary exact")
    func summaryExact() async throws {
        guard let store = try await makeStore() else { return }
        defer { store.close() }
        // 40 s at 1 kHz cut inside a 10 ms bucket: the second load adds to buckets of every level the
        // first wrote, and each writes more summary rows than are merged one by one.
        let whole = WaveformSummaryTests.batch(seconds: 40)
        let cut = 20_505
        let counts = try await store.ingest(
            IngestTests.Stream(items: [whole.rows(0..<cut), whole.rows(cut..<whole.count, newStreams: [])])) { _, _ in }
        #expect(counts.inserted == whole.count)
        let start = WaveformSummaryTests.start
        _ = try await store.insert(
            VibrationSample(
                machineName: "m1", sensorNo: "s1", collectedAt: start.adding(seconds: 40.5), measuredTime: 40.5, normal: 9,
                unbalance: 0, looseness: 0, unbalanceLooseness: 0))
        try await store.query(
            """
            INSERT INTO vibration_data (machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
            VALUES ('m1', 's1', \(start.adding(seconds: 41.5)), 41.5, -9, 0, 0, 0)
            """)
        for (seconds, buckets, width) in [(50.0, 50, Int64(1_000_000)), (42, 4_200, 10_000)] {
            let to = start.adding(seconds: seconds - 1e-6)
            let reduced = try #require(
                try await store.waveform(machineName: "m1", sensorNo: "s1", channel: .normal, from: start, to: to, buckets: buckets))
            #expect(reduced.summaryMicroseconds == width)
            #expect(reduced.samples == whole.count + 2)
            let series = try #require(
                try await store.series(machineName: "m1", sensorNo: "s1", channel: .normal, from: start, to: to, limit: 10_000_000))
            let expected = Downsampling.minMax(
                times: series.times, values: series.values, from: start.microseconds, to: to.microseconds + 1, buckets: buckets)
            #expect(reduced.buckets == expected, "\(buckets) buckets")
        }
    }

    @Test("a month gets its partition when its first data arrives; fault_type and name lengths are checked by the database")
    func partitionsAndChecks() async throws {
        guard let store = try await makeStore() else { return }
        defer { store.close() }
        _ = try await store.insert(VibrationSample(
            machineName: "old", sensorNo: "s1", collectedAt: Timestamp(parsing: "2019-06-15T12:00:00Z")!, measuredTime: 0,
            normal: 0, unbalance: 0, looseness: 0, unbalanceLooseness: 0))
        var partitions: [String] = []
        for try await name in try await store.query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'vibration_data'::regclass"
        ).decode(String.self) { partitions.append(name) }
        #expect(partitions.contains("vibration_data_2019m06"))
        #expect(partitions.count >= 4)  // and this month with the two ahead
        await #expect(throws: PSQLError.self) {
            try await store.query("INSERT INTO vibration_diagnosis (machine_name, fault_type) VALUES ('m', 4)")
        }
        await #expect(throws: PSQLError.self) {
            try await store.query("INSERT INTO vibration_diagnosis (machine_name, fault_type) VALUES (\(String(repeating: "x", count: 51)), 0)")
        }
        #expect(try await store.migrationStatus().allSatisfy(\.applied))
    }

    @Test("a large load brings the statistics of the months it wrote up to date, so that plans probe the key at once")
    func statisticsAfterLoad() async throws {
        guard let store = try await makeStore() else { return }
        defer { store.close() }
        let batches = try IngestTests().batches(rows: PostgresStore.analyzeAfterRows, rowsPerBatch: 65_536)
        let counts = try await store.ingest(IngestTests.Stream(items: batches)) { _, _ in }
        #expect(counts.inserted == PostgresStore.analyzeAfterRows)
        var analysed: [String] = []
        for try await name in try await store.query(
            """
            SELECT relname::text FROM pg_stat_user_tables
            WHERE schemaname = current_schema() AND relname LIKE 'vibration_data_%' AND last_analyze IS NOT NULL
            """
        ).decode(String.self) { analysed.append(name) }
        #expect(analysed == ["vibration_data_2025m01"])
        // The load summed up the id index's full block ranges; rows written since are summed up by
        // the next call, and only once.
        #expect(try await store.one("SELECT himmes_summarize_new_ranges()", Int32.self) == 0)
        // A vacuum sums up ranges too, and holds the lock the function waits 100 ms for: on a busy
        // server autovacuum could take the new rows' ranges first.
        try await store.query("ALTER TABLE vibration_data_2025m01 SET (autovacuum_enabled = off)")
        try await store.query(
            """
            INSERT INTO vibration_data (sensor_id, machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
            SELECT s.id, s.machine_name, s.sensor_no, timestamptz '2025-01-20' + i * interval '1 millisecond', i / 1000.0, 0, 0, 0, 0
            FROM sensors s, generate_series(1, 40000) AS i WHERE s.id = (SELECT min(id) FROM sensors)
            """)
        #expect(try await store.one("SELECT himmes_summarize_new_ranges()", Int32.self) ?? 0 >= 1)
        #expect(try await store.one("SELECT himmes_summarize_new_ranges()", Int32.self) == 0)
        let newest = try await store.newestSampleID()
        #expect(newest == Int64(PostgresStore.analyzeAfterRows + 40_000))
        #expect(try await store.sample(id: newest)?.sample.measuredTime == 40)
    }

    @Test("many uploads at once through a pool of two connections all finish, and store each row once")
    func concurrentLoadsSmallPool() async throws {
        let store = try await PostgresStore.connect(Backend.freshPostgresLocation(), maximumConnections: 2)
        store.start()
        defer { store.close() }
        let uploads = try (0..<6).map { seed in try IngestTests().batches(rows: 4_000, rowsPerBatch: 1_000, seed: UInt64(seed % 3)) }
        let inserted = try await withThrowingTaskGroup(of: Int.self) { group in
            for batches in uploads {
                group.addTask { try await store.ingest(IngestTests.Stream(items: batches)) { _, _ in }.inserted }
            }
            // A deadlock would hang here. The work takes a second alone, but the clock runs from
            // when the suite starts the test, beside every other: ten minutes tell the two apart.
            group.addTask {
                try await Task.sleep(for: .seconds(600))
                throw CancellationError()
            }
            var total = 0
            for _ in uploads { total += try await group.next() ?? 0 }
            group.cancelAll()
            return total
        }
        // Three plants, each sent twice: each distinct identity once.
        var identities = Set<String>()
        for batches in uploads {
            var streams: [StreamKey] = []
            for batch in batches {
                streams += batch.newStreams
                for i in 0..<batch.count {
                    let s = batch.sample(at: i, streams: streams)
                    identities.insert("\(s.machineName)|\(s.sensorNo)|\(s.collectedAt.microseconds)|\(s.measuredTime)")
                }
            }
        }
        #expect(identities.count > 11_000)
        #expect(inserted == identities.count)
        #expect(try await store.sampleCount() == identities.count)
    }
}

extension SampleBatch {
    /// The rows in `range` as a batch of their own, announcing `newStreams` (by default this
    /// batch's).
    func rows(_ range: Range<Int>, newStreams: [StreamKey]? = nil) -> SampleBatch {
        var part = SampleBatch()
        part.newStreams = newStreams ?? self.newStreams
        for i in range {
            part.append(
                stream: stream[i], collectedAt: collectedAt[i], measuredTime: measuredTime[i], normal[i], unbalance[i], looseness[i],
                unbalanceLooseness[i], line: Int(line[i]))
        }
        return part
    }
}
