import CSQLiteSettings
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization
import VibrationCore

/// The embedded store: one SQLite file in WAL mode, owned by one `DatabasePool`.
public final class SQLiteStore: Store {
    let pool: DatabasePool
    public let path: String
    /// Copies the WAL into the database file beside the writer; nil when it could not open, and
    /// then the writer's own automatic checkpoint does all the copying, as SQLite does by default.
    private let checkpointer: Checkpointer?
    /// The dashboard's short reads on the calling thread; nil when it could not open.
    let inline: InlineReader?
    /// What this store just wrote, kept for the diagnosis engine once it starts scanning.
    let fresh = FreshSamples()

    /// Opens (creating if needed) the database file and brings its schema up to date.
    public init(path: String, logger: Logger = Logger(label: "himmes.store")) throws {
        if Self.processSettings != SQLITE_OK {
            logger.debug("SQLite was in use before the first store opened: it keeps its default mutexes")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL with synchronous=NORMAL survives a killed process without losing a committed
            // transaction; only a power cut can lose the last few.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Larger pages halve the B-tree depth work of bulk inserts; only takes effect on a new file.
            try db.execute(sql: "PRAGMA page_size = 16384")
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        self.path = path
        self.pool = try DatabasePool(path: path, configuration: configuration)
        do {
            checkpointer = try Checkpointer(path: path)
        } catch {
            logger.warning("no background checkpoints: the writer checkpoints the WAL alone", metadata: ["error": "\(error)"])
            checkpointer = nil
        }
        inline = try? InlineReader(path: path)
        let migrator = SQLiteSchema.migrator
        let pending = try pool.read { db in try migrator.hasCompletedMigrations(db) == false }
        if pending { logger.info("migrating database", metadata: ["path": .string(path)]) }
        try migrator.migrate(pool)
    }

    /// Multi-thread mode and no memory statistics, set once before the process's first connection
    /// (see `himmes_sqlite_configure`): with uploads streaming in, the writer spent about a seventh of
    /// its time taking and waiting for mutexes that GRDB's one-thread-per-connection access makes needless.
    static let processSettings = himmes_sqlite_configure()

    /// The migrations this build knows and whether each is applied.
    public func migrations() throws -> [(name: String, applied: Bool)] {
        try pool.read(Self.migrationStatus)
    }

    public func migrationStatus() async throws -> [(name: String, applied: Bool)] {
        try await pool.read(Self.migrationStatus)
    }

    static func migrationStatus(_ db: Database) throws -> [(name: String, applied: Bool)] {
        let migrator = SQLiteSchema.migrator
        let applied = try migrator.appliedIdentifiers(db)
        return migrator.migrations.map { ($0, applied.contains($0)) }
    }

    public func statistics() async throws -> StoreStatistics {
        func size(_ file: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.intValue ?? 0
        }
        let openAlarms = try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM alarms WHERE closed_at IS NULL") ?? 0
        }
        return StoreStatistics(
            databaseBytes: size(path), walBytes: size(path + "-wal"),
            maximumConnections: pool.configuration.maximumReaderCount + 1, openAlarms: openAlarms)
    }

    /// Stops the checkpointer; the pool closes when the store is released (SQLite checkpoints the
    /// WAL as the last connection closes).
    public func close() {
        checkpointer?.stop()
    }

    deinit {
        checkpointer?.stop()
    }

    /// Runs SQLite's passive checkpoint twenty times a second on a connection of its own. With only
    /// the automatic checkpoint, the connection that commits copies the WAL into the database file:
    /// under a steady upload the writer spent about a fifth of its time reading the WAL back and
    /// writing the file. A passive checkpoint never waits for readers or the writer. The writer's own
    /// automatic checkpoint stays on: it finds nearly every frame copied already, copies the rest, and
    /// so lets the next transaction start the WAL again from its beginning (the background one alone,
    /// always a few commits behind, never would: the WAL grew to 2.4 GB in 20 s of uploads).
    final class Checkpointer: Sendable {
        private let task: Task<Void, Never>

        init(path: String, every interval: Duration = .milliseconds(50)) throws {
            var configuration = Configuration()
            configuration.label = "himmes.checkpoint"
            let connection = try DatabaseQueue(path: path, configuration: configuration)
            task = Task.detached(priority: .utility) {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    // Busy (another process's checkpoint running) or failing: the next round tries again.
                    _ = try? await connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
                }
            }
        }

        func stop() {
            task.cancel()
        }
    }

    /// A read-only connection of its own that runs short reads (a page of a table, a waveform's
    /// summary rows, the latest diagnoses, the alarms) on the thread that asks, when no other
    /// thread is using it. A read through the pool hands the work to one of the pool's threads and the answer back to
    /// the caller's: with uploads streaming in and both cores busy, waiting for those two threads
    /// to be scheduled took 2-3 ms of a table page's time, its read 0.2 ms.
    final class InlineReader: Sendable {
        private let connection: DatabaseQueue
        private let busy = Atomic<Bool>(false)

        init(path: String) throws {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.label = "himmes.inline-read"
            configuration.busyMode = .timeout(1)
            connection = try DatabaseQueue(path: path, configuration: configuration)
        }

        /// The body's result, or nil when another thread is reading (the caller then reads
        /// through the pool: this never waits).
        func read<T>(_ body: (Database) throws -> T) throws -> T? {
            guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return nil }
            defer { busy.store(false, ordering: .releasing) }
            return try connection.read(body)
        }
    }

    /// A read that is `short`: on this thread through `inline` when it is free, through the pool
    /// otherwise; any other read through the pool. Short means a millisecond or less: the thread
    /// that asks is one of the few that serve every request. (The registry and the board's
    /// per-machine figures, read for every machine, stay on the pool.)
    func quickRead<T: Sendable>(short: Bool = true, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        if short, let inline, let value = try inline.read(body) { return value }
        return try await pool.read(body)
    }

    // MARK: Statements stepped through the C API, for the reads and writes of millions of rows

    /// Binds `arguments` to a cached statement, steps it and hands each row to `row` to read its
    /// columns with `sqlite3_column_*`; the statement is reset after.
    static func forEachRow(
        of statement: Statement, _ db: Database, arguments: StatementArguments, _ row: (OpaquePointer) throws -> Void
    ) throws {
        let stmt = statement.sqliteStatement
        try statement.setArguments(arguments)
        defer { sqlite3_reset(stmt) }
        while true {
            let code = sqlite3_step(stmt)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw stepError(code, db, sql: statement.sql) }
            try row(stmt)
        }
    }

    /// The error of a statement stepped through the C API.
    static func stepError(_ code: Int32, _ db: Database, sql: String? = nil) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Samples

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
            let instants: (Int64?, Int64?) = (row?[0], row?[1])
            let collected: (Int64?, Int64?) = (row?[2], row?[3])
            let span = InstantSeries.span(
                instants: instants.0.flatMap { a in instants.1.map { a...max(a, $0) } },
                extentsCollected: collected.0.flatMap { a in collected.1.map { a...max(a, $0) } }, collected: low...high)
            return Timestamp(microseconds: span.lowerBound)...Timestamp(microseconds: span.upperBound)
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
        }.filter { $0.instants.upperBound >= from.microseconds && $0.instants.lowerBound <= to.microseconds }
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
        let limit = WaveformSummary.sampleLimit
        let placed = try await pool.read { db in
            try Self.existingSensorID(db, machineName: machineName, sensorNo: sensorNo).flatMap {
                try Self.seriesByRecording(db, sensor: $0, column: column, from: from, to: to, limit: limit)
            }
        }
        if let placed {
            return Downsampling.Reduced(
                buckets: Downsampling.minMax(
                    times: placed.times, values: placed.values, from: from.microseconds, to: to.microseconds + 1, buckets: buckets),
                samples: placed.times.count, truncated: placed.times.count == limit, summaryMicroseconds: nil)
        }
        return try await drawWaveform(
            machineName: machineName, sensorNo: sensorNo, channel: channel, from: from, to: to, buckets: buckets
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

    // MARK: Diagnoses

    static func storedDiagnosis(_ row: Row) throws -> StoredDiagnosis {
        let code: Int = row[3]
        return StoredDiagnosis(
            id: row[0],
            diagnosis: Diagnosis(
                machineName: row[1], detectedAt: Timestamp(microseconds: row[2]),
                faultType: try Validation.faultType(code)))
    }

    public func insert(_ diagnosis: Diagnosis) async throws -> StoredDiagnosis {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type) VALUES (?, ?, ?)",
                arguments: [diagnosis.machineName, diagnosis.detectedAt.microseconds, diagnosis.faultType.rawValue])
            return StoredDiagnosis(id: db.lastInsertedRowID, diagnosis: diagnosis)
        }
    }

    public func insert(_ diagnoses: [Diagnosis]) async throws -> Int {
        try await pool.write { db in
            let statement = try db.cachedStatement(
                sql: "INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type) VALUES (?, ?, ?)")
            for d in diagnoses {
                try statement.execute(arguments: [d.machineName, d.detectedAt.microseconds, d.faultType.rawValue])
            }
            return diagnoses.count
        }
    }

    public func diagnosis(id: Int64) async throws -> StoredDiagnosis? {
        try await quickRead { db in
            try Row.fetchOne(
                db, sql: "SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis WHERE id = ?",
                arguments: [id]
            ).map(Self.storedDiagnosis)
        }
    }

    public func diagnoses(matching filter: DiagnosisFilter, after cursor: DiagnosisCursor?, limit: Int) async throws
        -> [StoredDiagnosis]
    {
        let terms = filter.predicate(after: cursor).sqlite()
        let arguments = terms.arguments + [limit]
        let sql = """
            SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis
            \(ListPredicate.whereClause(terms.conditions))
            ORDER BY detected_at \(filter.order.sql.keyword), id \(filter.order.sql.keyword) LIMIT ?
            """
        let bound = arguments
        return try await quickRead(short: limit <= 1_000) { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map(Self.storedDiagnosis)
        }
    }

    /// The newest diagnosis of each machine: one more index probe per machine.
    static let latestDiagnosesSQL = StoreSQL.diagnosedMachines + """
        SELECT d.id, d.machine_name, d.detected_at, d.fault_type
        FROM machine JOIN vibration_diagnosis d ON d.id = (
            SELECT id FROM vibration_diagnosis WHERE machine_name = machine.name
            ORDER BY detected_at DESC, id DESC LIMIT 1)
        WHERE machine.name IS NOT NULL
        ORDER BY d.machine_name
        """

    static let latestDiagnosisOfMachineSQL = """
        SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis
        WHERE machine_name = ? ORDER BY detected_at DESC, id DESC LIMIT 1
        """

    public func latestDiagnoses(machineName: String?) async throws -> [StoredDiagnosis] {
        try await quickRead { db in
            if let machineName {
                return try Row.fetchAll(db, sql: Self.latestDiagnosisOfMachineSQL, arguments: [machineName])
                    .map(Self.storedDiagnosis)
            }
            return try Row.fetchAll(db, sql: Self.latestDiagnosesSQL).map(Self.storedDiagnosis)
        }
    }

    public func faultTypeCounts(machineName: String?, from: Timestamp?, to: Timestamp?) async throws
        -> [(machineName: String, faultType: FaultType, count: Int)]
    {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT machine_name, fault_type, count(*) FROM vibration_diagnosis
                    WHERE (? IS NULL OR machine_name = ?) AND detected_at BETWEEN ? AND ?
                    GROUP BY machine_name, fault_type ORDER BY machine_name, fault_type
                    """,
                arguments: [
                    machineName, machineName, (from ?? .earliest).microseconds, (to ?? .latest).microseconds,
                ]
            ).compactMap { row in
                FaultType(rawValue: row[1]).map { (machineName: row[0], faultType: $0, count: row[2]) }
            }
        }
    }

    // MARK: Machines

    public func machines() async throws -> [MachineSummary] {
        try await pool.read { db in try Self.machines(db, named: nil) }
    }

    public func machine(named name: String) async throws -> MachineSummary? {
        try await quickRead { db in try Self.machines(db, named: name).first }
    }

    static func machines(_ db: Database, named name: String?) throws -> [MachineSummary] {
        let sensors = try Row.fetchAll(
            db,
            sql: "SELECT id, machine_name, sensor_no FROM sensors"
                + (name == nil ? "" : " WHERE machine_name = ?") + " ORDER BY machine_name, sensor_no",
            arguments: name.map { [$0] } ?? [])
        // Three statements per sensor, each prepared once per connection rather than once per sensor.
        let countStatement = try db.cachedStatement(sql: "SELECT sum(n) FROM waveform_summary WHERE sensor_id = ? AND level = ?")
        let firstStatement = try db.cachedStatement(sql: "SELECT min(collected_at) FROM vibration_samples WHERE sensor_id = ?")
        let lastStatement = try db.cachedStatement(sql: "SELECT max(collected_at) FROM vibration_samples WHERE sensor_id = ?")
        let figures = try sensors.map { sensor in
            let id: Int64 = sensor[0]
            // The count from the coarsest level of the waveform summary (one row per 100 s of data)
            // rather than the samples; min and max each stay a single index probe.
            let count = try Int64.fetchOne(countStatement, arguments: [id, WaveformSummary.levels.count - 1]) ?? 0
            let first = try Int64.fetchOne(firstStatement, arguments: [id])
            let last = try Int64.fetchOne(lastStatement, arguments: [id])
            return SensorFigures(
                machineName: sensor[1], sensorNo: sensor[2], count: count, first: first.map(Timestamp.init(microseconds:)),
                last: last.map(Timestamp.init(microseconds:)))
        }
        let latestRows =
            try name.map { try Row.fetchAll(db, sql: Self.latestDiagnosisOfMachineSQL, arguments: [$0]) }
            ?? Row.fetchAll(db, sql: Self.latestDiagnosesSQL)
        return MachineSummary.assemble(sensors: figures, latest: try latestRows.map(Self.storedDiagnosis))
    }

    public func diagnosisRuns(machineName: String?, from: Timestamp, to: Timestamp, slots: Int) async throws -> [DiagnosisRun] {
        try await pool.read { db in
            let machines =
                try machineName.map { [$0] }
                ?? String.fetchAll(db, sql: "SELECT DISTINCT machine_name FROM vibration_diagnosis ORDER BY machine_name")
            // Each machine's diagnoses of the range come in time order from the covering index, so
            // slots and bands are built in one pass, stepping the statement through the C API.
            let statement = try db.cachedStatement(
                sql: """
                    SELECT detected_at, fault_type, id FROM vibration_diagnosis
                    WHERE machine_name = ? AND detected_at BETWEEN ? AND ? ORDER BY detected_at
                    """)
            var builder = DiagnosisRunBuilder(from: from, to: to, slots: slots)
            for machine in machines {
                try Self.forEachRow(of: statement, db, arguments: [machine, from.microseconds, to.microseconds]) { stmt in
                    builder.add(
                        machine: machine, at: sqlite3_column_int64(stmt, 0),
                        faultType: FaultType(rawValue: Int(sqlite3_column_int64(stmt, 1))) ?? .normal, id: sqlite3_column_int64(stmt, 2))
                }
                builder.finishSlot()
            }
            return builder.runs
        }
    }
}

/// One sensor's rows in list order, read a few at a time through one cached statement (a plant of
/// a few hundred sensors otherwise prepared a statement per sensor for every page): the first read
/// takes one row, each next one twice as many as the last, up to what the page still needs.
struct SampleRun {
    let sensorID: Int64
    let machineName: String
    let sensorNo: String
    /// Where the next read continues.
    private var after: SampleKey
    private var buffered: [StoredSample] = []
    private var next = 0
    private var chunk = 0
    private var exhausted = false
    var head: (key: SampleKey, sample: StoredSample)?

    init(sensorID: Int64, machineName: String, sensorNo: String, after: SampleKey) {
        self.sensorID = sensorID
        self.machineName = machineName
        self.sensorNo = sensorNo
        self.after = after
    }

    /// Moves to the next row, reading more when the buffered ones are used up; false at the end.
    mutating func advance(_ statement: Statement, _ filter: StatementArguments, limit: Int) throws -> Bool {
        if next == buffered.count {
            guard !exhausted, limit > 0 else {
                head = nil
                return false
            }
            chunk = min(max(chunk * 2, 1), max(limit, 1))
            let rows = try Row.fetchAll(
                statement, arguments: [sensorID] + filter + [after.collectedAt, after.measuredTime, after.id, chunk])
            exhausted = rows.count < chunk
            buffered = rows.map { row in
                StoredSample(
                    id: row[0],
                    sample: VibrationSample(
                        machineName: machineName, sensorNo: sensorNo, collectedAt: Timestamp(microseconds: row[1]),
                        measuredTime: row[2], normal: row[3], unbalance: row[4], looseness: row[5], unbalanceLooseness: row[6]))
            }
            next = 0
            guard let last = buffered.last else {
                head = nil
                return false
            }
            after = SampleKey(last)
        }
        let sample = buffered[next]
        next += 1
        head = (SampleKey(sample), sample)
        return true
    }
}

/// The list order of samples: (collected_at, measured_time, id).
struct SampleKey: Comparable {
    var collectedAt: Int64
    var measuredTime: Double
    var id: Int64

    init(collectedAt: Int64, measuredTime: Double, id: Int64) {
        self.collectedAt = collectedAt
        self.measuredTime = measuredTime
        self.id = id
    }

    init(_ s: StoredSample) {
        collectedAt = s.sample.collectedAt.microseconds
        measuredTime = s.sample.measuredTime
        id = s.id
    }

    static func < (a: SampleKey, b: SampleKey) -> Bool {
        (a.collectedAt, a.measuredTime, a.id) < (b.collectedAt, b.measuredTime, b.id)
    }
}

/// A binary min-heap, for merging sorted runs.
struct MinHeap<Element> {
    private var items: [Element]
    private let less: (Element, Element) -> Bool

    init(_ items: [Element], by less: @escaping (Element, Element) -> Bool) {
        self.items = []
        self.less = less
        for item in items { insert(item) }
    }

    mutating func insert(_ item: Element) {
        items.append(item)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func popMin() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let min = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var smallest = i
            if l < items.count, less(items[l], items[smallest]) { smallest = l }
            if r < items.count, less(items[r], items[smallest]) { smallest = r }
            guard smallest != i else { break }
            items.swapAt(i, smallest)
            i = smallest
        }
        return min
    }
}
