import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import VibrationCore

/// Where a PostgreSQL database is: `postgres://user:password@host:port/database`, with optional
/// `?sslmode=disable|prefer|require` (prefer when not given) and `?schema=NAME` (a schema of the
/// database to keep the tables in, made when missing; `public` when not given).
public struct PostgresLocation: Sendable, Hashable {
    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var schema: String?
    public var tls: TLSMode

    /// Whether the text names a PostgreSQL database rather than a file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public init(url text: String) throws {
        guard Self.isURL(text), let url = URLComponents(string: text), let host = url.host, !host.isEmpty else {
            throw PostgresStoreError.badURL(
                "'\(Self.redacted(text))' is not a PostgreSQL URL of the form postgres://user:password@host:port/database")
        }
        self.host = host
        port = url.port ?? 5432
        guard let user = url.user, !user.isEmpty else {
            throw PostgresStoreError.badURL("'\(Self.redacted(text))' names no user (postgres://USER@host/database)")
        }
        username = user.removingPercentEncoding ?? user
        password = url.password.map { $0.removingPercentEncoding ?? $0 }
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        database = path.isEmpty ? username : path
        schema = nil
        tls = .prefer
        for item in url.queryItems ?? [] {
            switch item.name {
            case "schema":
                guard let value = item.value, value.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
                    throw PostgresStoreError.badURL("schema must be a lower-case SQL name (letters, digits, _)")
                }
                schema = value
            case "sslmode":
                guard let value = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw PostgresStoreError.badURL("sslmode must be disable, prefer or require")
                }
                tls = value
            default:
                throw PostgresStoreError.badURL("unknown parameter '\(item.name)' (known: schema, sslmode)")
            }
        }
    }

    /// The URL, password included.
    public var url: String {
        var text = "postgres://" + (username.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? username)
        if let password { text += ":" + (password.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed) ?? password) }
        var query = ["sslmode=\(tls.rawValue)"]
        if let schema { query.append("schema=\(schema)") }
        return text + "@\(host):\(port)/\(database)?" + query.joined(separator: "&")
    }

    /// The URL without its password, for logs and messages.
    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database)" + (schema.map { "?schema=\($0)" } ?? "")
    }

    static func redacted(_ text: String) -> String {
        text.replacingOccurrences(of: ":[^:@/]*@", with: ":***@", options: .regularExpression)
    }
}

public enum PostgresStoreError: Error, CustomStringConvertible {
    case badURL(String)
    case unreachable(String, String)
    case unexpected(String)

    public var description: String {
        switch self {
        case .badURL(let text): "bad database URL: \(text)"
        case .unreachable(let location, let why): "cannot open the PostgreSQL database \(location): \(why)"
        case .unexpected(let text): text
        }
    }

    /// What went wrong, in words: the server's own message, else the connection's error.
    /// (postgres-nio's own description hides both, in case they hold secrets.)
    static func explain(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo, let message = info[.message] {
            return message + (info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        if let underlying = error.underlying { return "\(underlying)" }
        return "\(error.code)"
    }
}

/// The store for plants that outgrow one machine: PostgreSQL through postgres-nio's connection pool.
/// It keeps the behaviour of `SQLiteStore` (the same store tests run on both); sample writes are
/// serialised by an advisory lock, as SQLite serialises them by its single writer, while the COPY
/// of each batch into a session's staging table runs in parallel.
public final class PostgresStore: Store {
    let client: PostgresClient
    let logger: Logger
    public let location: PostgresLocation
    public let maximumConnections: Int
    private let running: Task<Void, Never>

    /// Connects, makes the schema when missing and brings it up to date.
    public static func connect(
        _ location: PostgresLocation, maximumConnections: Int = 16, logger: Logger = Logger(label: "himmes.store")
    ) async throws -> PostgresStore {
        try await probe(location, logger: logger)
        let store = PostgresStore(location: location, maximumConnections: maximumConnections, logger: logger)
        do {
            try await store.migrate()
        } catch {
            store.close()
            throw PostgresStoreError.unreachable(location.description, PostgresStoreError.explain(error))
        }
        return store
    }

    public static func connect(url: String, logger: Logger = Logger(label: "himmes.store")) async throws -> PostgresStore {
        try await connect(PostgresLocation(url: url), logger: logger)
    }

    /// One connection made and closed before the pool starts: the pool would retry a server that
    /// is down, or a wrong password, for ever; this says at once what is wrong.
    static func probe(_ location: PostgresLocation, logger: Logger) async throws {
        do {
            let tls: PostgresConnection.Configuration.TLS =
                switch location.tls {
                case .disable: .disable
                case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
                case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                }
            var configuration = PostgresConnection.Configuration(
                host: location.host, port: location.port, username: location.username, password: location.password,
                database: location.database, tls: tls)
            configuration.options.connectTimeout = .seconds(10)
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try await connection.close()
        } catch {
            throw PostgresStoreError.unreachable(location.description, PostgresStoreError.explain(error))
        }
    }

    private init(location: PostgresLocation, maximumConnections: Int, logger: Logger) {
        let tls: PostgresClient.Configuration.TLS =
            switch location.tls {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        // Times travel as UTC; month partitions are cut in UTC.
        var parameters = [("TimeZone", "UTC")]
        if let schema = location.schema { parameters.append(("search_path", schema)) }
        configuration.options.additionalStartupParameters = parameters
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.location = location
        self.maximumConnections = maximumConnections
        // Started at once, so that the first query does not find the pool idle.
        running = Task.immediate { await client.run() }
    }

    /// Closes the pool's connections. The store cannot be used after.
    public func close() {
        running.cancel()
    }

    deinit { running.cancel() }

    // MARK: Queries

    @discardableResult
    func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await client.query(query, logger: logger)
    }

    func all<each C: PostgresDecodable & Sendable>(_ query: PostgresQuery, _ types: (repeat each C).Type) async throws
        -> [(repeat each C)]
    {
        var rows: [(repeat each C)] = []
        for try await row in try await client.query(query, logger: logger).decode(types) { rows.append(row) }
        return rows
    }

    /// `all` for a query on sample ids, planned to read the id index whatever the statistics say:
    /// until a partition written by small uploads is first analysed, the planner takes its block
    /// ranges to be unordered and scans every row instead (with the engine scanning each second, a
    /// load grew quadratic).
    func allByID<each C: PostgresDecodable & Sendable>(_ query: PostgresQuery, _ types: (repeat each C).Type) async throws
        -> [(repeat each C)]
    {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET LOCAL enable_seqscan = off", logger: logger)
            try await connection.query("SET LOCAL max_parallel_workers_per_gather = 0", logger: logger)
            var rows: [(repeat each C)] = []
            for try await row in try await connection.query(query, logger: logger).decode(types) { rows.append(row) }
            return rows
        }
    }

    func one<C: PostgresDecodable & Sendable>(_ query: PostgresQuery, _ type: C.Type) async throws -> C? {
        try await client.query(query, logger: logger).first(type)
    }

    /// Runs the body in a transaction that holds the sample write lock.
    func writing<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.writeLock))", logger: logger)
            return try await body(connection)
        }
    }

    // MARK: Migrations

    private func migrate() async throws {
        try await client.withConnection { connection in
            if let schema = location.schema {
                try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: "\"\(schema)\"")", logger: logger)
            }
            try await connection.query("SELECT pg_advisory_lock(\(PostgresSchema.migrationLock))", logger: logger)
            do {
                try await connection.query(PostgresQuery(unsafeSQL: PostgresSchema.migrationTable), logger: logger)
                let applied = Set(try await connection.query("SELECT name FROM himmes_migrations", logger: logger).values(String.self))
                for migration in PostgresSchema.migrations where !applied.contains(migration.name) {
                    logger.info("migrating database", metadata: ["database": .string(location.description), "migration": .string(migration.name)])
                    try await connection.withTransaction(logger: logger) { connection in
                        // The extended protocol takes one statement at a time.
                        for statement in PostgresSchema.statements(migration.sql) {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await connection.query("INSERT INTO himmes_migrations (name) VALUES (\(migration.name))", logger: logger)
                    }
                }
                // Months ahead of the clock, so that live data never waits on making one.
                try await connection.query(
                    "SELECT himmes_ensure_partitions(ARRAY[now(), now() + interval '1 month', now() + interval '2 months'])",
                    logger: logger)
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(PostgresSchema.migrationLock))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(PostgresSchema.migrationLock))", logger: logger)
        }
    }

    public func migrationStatus() async throws -> [(name: String, applied: Bool)] {
        let applied = Set(try await query("SELECT name FROM himmes_migrations").values(String.self))
        return PostgresSchema.migrations.map { ($0.name, applied.contains($0.name)) }
    }

    public func statistics() async throws -> StoreStatistics {
        let bytes = try await one("SELECT pg_database_size(current_database())", Int64.self) ?? 0
        let openAlarms = try await one("SELECT count(*) FROM alarms WHERE closed_at IS NULL", Int64.self) ?? 0
        return StoreStatistics(databaseBytes: Int(bytes), walBytes: 0, maximumConnections: maximumConnections, openAlarms: Int(openAlarms))
    }

    public func ping() async throws {
        _ = try await one("SELECT 1", Int.self)
    }

    // MARK: Samples

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
        }.filter { $0.instants.upperBound >= from.microseconds && $0.instants.lowerBound <= to.microseconds }
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
        let span = InstantSeries.span(
            instants: instantLow.flatMap { a in instantHigh.map { a...max(a, $0) } },
            extentsCollected: extentLow.flatMap { a in extentHigh.map { a...max(a, $0) } }, collected: low...max(low, high))
        return Timestamp(microseconds: span.lowerBound)...Timestamp(microseconds: span.upperBound)
    }

    public func waveform(
        machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, buckets: Int
    ) async throws -> Downsampling.Reduced? {
        let limit = WaveformSummary.sampleLimit
        if let sensor = try await sensorID(machineName: machineName, sensorNo: sensorNo),
            let placed = try await seriesByRecording(sensor: sensor, channel: channel, from: from, to: to, limit: limit)
        {
            return Downsampling.Reduced(
                buckets: Downsampling.minMax(
                    times: placed.times, values: placed.values, from: from.microseconds, to: to.microseconds + 1, buckets: buckets),
                samples: placed.times.count, truncated: placed.times.count == limit, summaryMicroseconds: nil)
        }
        // The channel names a column; it comes from the enum, never from a request.
        let column = channel.rawValue
        return try await drawWaveform(
            machineName: machineName, sensorNo: sensorNo, channel: channel, from: from, to: to, buckets: buckets
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

    // MARK: Diagnoses

    typealias DiagnosisRow = (Int64, String, Timestamp, Int)

    static func storedDiagnosis(_ r: DiagnosisRow) throws -> StoredDiagnosis {
        StoredDiagnosis(
            id: r.0, diagnosis: Diagnosis(machineName: r.1, detectedAt: r.2, faultType: try Validation.faultType(r.3)))
    }

    public func insert(_ diagnosis: Diagnosis) async throws -> StoredDiagnosis {
        let id = try await one(
            """
            INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type)
            VALUES (\(diagnosis.machineName), \(diagnosis.detectedAt), \(diagnosis.faultType.rawValue)) RETURNING id
            """, Int64.self)
        guard let id else { throw PostgresStoreError.unexpected("INSERT returned no id") }
        return StoredDiagnosis(id: id, diagnosis: diagnosis)
    }

    public func insert(_ diagnoses: [Diagnosis]) async throws -> Int {
        guard !diagnoses.isEmpty else { return 0 }
        try await query(
            """
            INSERT INTO vibration_diagnosis (machine_name, detected_at, fault_type)
            SELECT * FROM unnest(\(diagnoses.map(\.machineName))::text[], \(diagnoses.map(\.detectedAt))::timestamptz[],
                                 \(diagnoses.map(\.faultType.rawValue))::integer[])
            """)
        return diagnoses.count
    }

    public func diagnosis(id: Int64) async throws -> StoredDiagnosis? {
        try await all(
            "SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis WHERE id = \(id)", DiagnosisRow.self
        ).first.map(Self.storedDiagnosis)
    }

    public func diagnoses(matching filter: DiagnosisFilter, after cursor: DiagnosisCursor?, limit: Int) async throws
        -> [StoredDiagnosis]
    {
        var binds = PostgresBindings()
        func bind<V: PostgresNonThrowingEncodable & Sendable>(_ value: V) -> String { binds.placeholder(value) }
        let conditions = filter.predicate(after: cursor).postgres(binds: &binds)
        let keyword = filter.order.sql.keyword
        let sql = """
            SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis
            \(ListPredicate.whereClause(conditions))
            ORDER BY detected_at \(keyword), id \(keyword) LIMIT \(bind(limit))
            """
        return try await all(PostgresQuery(unsafeSQL: sql, binds: binds), DiagnosisRow.self).map(Self.storedDiagnosis)
    }

    /// The newest diagnosis of each machine. As a LATERAL join, PostgreSQL probes the index once
    /// per machine whatever its statistics say (joined on a subquery's id, it measured ten times
    /// slower on diagnoses not yet analysed).
    static let latestDiagnosesSQL = StoreSQL.diagnosedMachines + """
        SELECT d.id, d.machine_name, d.detected_at, d.fault_type
        FROM machine CROSS JOIN LATERAL (
            SELECT * FROM vibration_diagnosis WHERE machine_name = machine.name ORDER BY detected_at DESC, id DESC LIMIT 1) AS d
        WHERE machine.name IS NOT NULL
        ORDER BY d.machine_name
        """

    public func faultTypeCounts(machineName: String?, from: Timestamp?, to: Timestamp?) async throws
        -> [(machineName: String, faultType: FaultType, count: Int)]
    {
        try await all(
            """
            SELECT machine_name, fault_type::int, count(*)::bigint FROM vibration_diagnosis
            WHERE (\(machineName)::text IS NULL OR machine_name = \(machineName))
              AND detected_at BETWEEN \(from ?? .earliest) AND \(to ?? .latest)
            GROUP BY machine_name, fault_type ORDER BY machine_name, fault_type
            """, (String, Int, Int64).self
        ).compactMap { name, code, count in FaultType(rawValue: code).map { (machineName: name, faultType: $0, count: Int(count)) } }
    }

    public func latestDiagnoses(machineName: String?) async throws -> [StoredDiagnosis] {
        let query: PostgresQuery =
            if let machineName {
                """
                SELECT id, machine_name, detected_at, fault_type FROM vibration_diagnosis
                WHERE machine_name = \(machineName) ORDER BY detected_at DESC, id DESC LIMIT 1
                """
            } else {
                PostgresQuery(unsafeSQL: Self.latestDiagnosesSQL)
            }
        return try await all(query, DiagnosisRow.self).map(Self.storedDiagnosis)
    }

    // MARK: Machines

    public func machines() async throws -> [MachineSummary] {
        try await machines(named: nil)
    }

    public func machine(named name: String) async throws -> MachineSummary? {
        try await machines(named: name).first
    }

    func machines(named name: String?) async throws -> [MachineSummary] {
        // The count from the coarsest level of the waveform summary rather than the samples; first
        // and last are each one probe of the identity key per partition.
        let sensors = try await all(
            """
            SELECT s.machine_name, s.sensor_no,
                   (SELECT coalesce(sum(n), 0)::bigint FROM waveform_summary w WHERE w.sensor_id = s.id AND w.level = \(WaveformSummary.levels.count - 1)),
                   (SELECT min(collected_at) FROM vibration_data v WHERE v.sensor_id = s.id),
                   (SELECT max(collected_at) FROM vibration_data v WHERE v.sensor_id = s.id)
            FROM sensors s WHERE \(name)::text IS NULL OR s.machine_name = \(name)
            ORDER BY s.machine_name, s.sensor_no
            """, (String, String, Int64, Timestamp?, Timestamp?).self)
        let latest = try await latestDiagnoses(machineName: name)
        return MachineSummary.assemble(
            sensors: sensors.map { SensorFigures(machineName: $0.0, sensorNo: $0.1, count: $0.2, first: $0.3, last: $0.4) },
            latest: latest)
    }

    public func diagnosisRuns(machineName: String?, from: Timestamp, to: Timestamp, slots: Int) async throws -> [DiagnosisRun] {
        // The database sums each (machine, slot, verdict) up, so that a range of a hundred thousand
        // diagnoses comes back as a few rows per slot; the worst verdict of each slot is chosen here.
        let span = max(1, to.microseconds - from.microseconds + 1)
        let slots = Int64(max(1, slots))
        let rows = try await query(
            """
            SELECT machine_name, slot, fault_type, min(detected_at), max(detected_at), count(*), max(id)
            FROM (SELECT machine_name, fault_type, detected_at, id,
                         div((round(date_part('epoch', detected_at) * 1000000)::bigint - \(from.microseconds))::numeric * \(slots), \(span))::bigint AS slot
                  FROM vibration_diagnosis
                  WHERE (\(machineName)::text IS NULL OR machine_name = \(machineName)) AND detected_at BETWEEN \(from) AND \(to)) AS d
            GROUP BY machine_name, slot, fault_type
            ORDER BY machine_name, slot, fault_type
            """)
        var builder = DiagnosisRunBuilder(from: from, to: to, slots: Int(slots))
        var open: (slot: Int64, run: DiagnosisRun)?
        for try await (machine, slot, type, first, last, count, id) in rows.decode((String, Int64, Int, Timestamp, Timestamp, Int64, Int64).self) {
            let verdict = FaultType(rawValue: type) ?? .normal
            if var current = open, current.slot == slot, current.run.machineName == machine {
                // Verdicts come in rising order within a slot: the last is the worst.
                current.run.faultType = verdict
                current.run.lastID = id
                current.run.first = min(current.run.first, first)
                current.run.last = max(current.run.last, last)
                current.run.count += Int(count)
                open = current
            } else {
                if let finished = open?.run { builder.append(slot: finished) }
                open = (slot, DiagnosisRun(machineName: machine, faultType: verdict, first: first, last: last, count: Int(count), lastID: id))
            }
        }
        if let finished = open?.run { builder.append(slot: finished) }
        return builder.runs
    }
}

extension AsyncSequence where Element == PostgresRow {
    /// The first row's value (the only one, for the statements that use it); nil when there is no row.
    func first<C: PostgresDecodable & Sendable>(_ type: C.Type) async throws -> C? {
        for try await value in decode(type) { return value }
        return nil
    }

    /// Every row's value, in order.
    func values<C: PostgresDecodable & Sendable>(_ type: C.Type) async throws -> [C] {
        var values: [C] = []
        for try await value in decode(type) { values.append(value) }
        return values
    }
}

extension PostgresBindings {
    /// Binds the value and returns its placeholder (`$1`, `$2`, ...), for statements put together from parts.
    mutating func placeholder<V: PostgresNonThrowingEncodable & Sendable>(_ value: V) -> String {
        append(value)
        return "$\(count)"
    }
}

extension Timestamp: PostgresNonThrowingEncodable, PostgresDecodable, PostgresArrayEncodable, PostgresArrayDecodable {
    public static var psqlArrayType: PostgresDataType { .timestamptzArray }

    /// PostgreSQL counts timestamps in microseconds from 2000-01-01 UTC.
    static let postgresEpochOffset: Int64 = 946_684_800_000_000

    public static var psqlType: PostgresDataType { .timestamptz }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeInteger(microseconds &- Self.postgresEpochOffset)
    }

    public init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard type == .timestamptz || type == .timestamp, buffer.readableBytes == 8, let value = buffer.readInteger(as: Int64.self)
        else { throw PostgresDecodingError.Code.typeMismatch }
        self.init(microseconds: value &+ Self.postgresEpochOffset)
    }
}
