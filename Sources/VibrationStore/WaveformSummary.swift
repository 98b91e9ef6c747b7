import GRDB
import GRDBSQLite
import VibrationCore

/// Each sensor's smallest and largest value per channel over fixed time buckets of 10 ms, 100 ms,
/// 1 s, 10 s and 100 s, kept up to date by every write: a waveform over any range is drawn from the
/// finest level whose buckets are no wider than a pixel, reading at most about ten summary rows per
/// pixel instead of every sample, and still never hides a peak.
enum WaveformSummary {
    /// Bucket widths in microseconds, finest first; each level is ten times the one before.
    static let levels: [Int64] = [10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]
    static let channels = ["normal", "unbalance", "looseness", "unbalance_looseness"]
    /// The most samples a waveform reads from the samples themselves.
    static let sampleLimit = 5_000_000
    /// The most samples a waveform finer than the finest level reads before drawing from that level
    /// instead (5 s of a 4 kHz sensor), so that a request's work is bounded whatever the rate.
    static let rawSampleBudget = 20_000

    /// The start of the bucket of width `width` holding `t`, for negative times too.
    @inline(__always)
    static func bucket(_ t: Int64, _ width: Int64) -> Int64 {
        t - ((t % width) + width) % width
    }

    static let createSQL = """
        CREATE TABLE waveform_summary (
            sensor_id INTEGER NOT NULL REFERENCES sensors(id),
            level INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            n INTEGER NOT NULL,
            \(channels.map { "min_\($0) REAL NOT NULL, max_\($0) REAL NOT NULL" }.joined(separator: ",\n    "))
            , PRIMARY KEY (sensor_id, level, bucket)
        ) WITHOUT ROWID;
        """

    static let columns = "sensor_id, level, bucket, n, " + channels.map { "min_\($0), max_\($0)" }.joined(separator: ", ")

    /// `bucket(_:_:)` in SQL, for either database: the start of the bucket of width `width` holding
    /// the time `t` (both SQL expressions).
    static func bucketSQL(_ t: String, _ width: String) -> String {
        "\(t) - ((\(t) % \(width)) + \(width)) % \(width)"
    }

    static let mergeClause = """
        ON CONFLICT (sensor_id, level, bucket) DO UPDATE SET n = n + excluded.n,
        \(channels.map { "min_\($0) = min(min_\($0), excluded.min_\($0)), max_\($0) = max(max_\($0), excluded.max_\($0))" }.joined(separator: ",\n"))
        """

    /// Adds to a bucket, or creates it.
    static let upsertSQL = "INSERT INTO waveform_summary (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) " + mergeClause

    /// Builds every level from the stored samples (for databases written before the summary existed).
    static func backfillSQL() -> String {
        levels.enumerated().map { level, width in
            """
            INSERT INTO waveform_summary (\(columns))
            SELECT sensor_id, \(level), \(bucketSQL("collected_at", "\(width)")) AS b, count(*),
                   \(channels.map { "min(\($0)), max(\($0))" }.joined(separator: ", "))
            FROM vibration_samples WHERE true GROUP BY sensor_id, b;
            """
        }.joined(separator: "\n")
    }

    /// What the `vibration_data` view's insert trigger runs after storing a row, to add it to every level.
    static func triggerSQL() -> String {
        levels.enumerated().map { level, width in
            """
            INSERT INTO waveform_summary (\(columns))
            SELECT sensor_id, \(level), \(bucketSQL("collected_at", "\(width)")), 1,
                   \(channels.map { "\($0), \($0)" }.joined(separator: ", "))
            FROM vibration_samples WHERE id = last_insert_rowid()
            \(mergeClause);
            """
        }.joined(separator: "\n")
    }

    /// The extremes of the rows one write stored, gathered in memory and added to the table once.
    struct Accumulator {
        struct Key: Hashable {
            var sensor: Int64
            var bucket: Int64
        }

        struct Extremes {
            var n: Int64
            var low: SIMD4<Double>
            var high: SIMD4<Double>

            mutating func merge(_ other: Extremes) {
                n += other.n
                low = pointwiseMin(low, other.low)
                high = pointwiseMax(high, other.high)
            }
        }

        private var finest: [Key: Extremes] = [:]
        private var openKey = Key(sensor: -1, bucket: .min)
        private var open: Extremes?

        var isEmpty: Bool { finest.isEmpty && open == nil }

        /// One stored row. Rows usually arrive in runs of one sensor in time order, so the current
        /// bucket is kept aside and the dictionary touched once per bucket.
        @inline(__always)
        mutating func add(sensor: Int64, at t: Int64, _ values: SIMD4<Double>) {
            let key = Key(sensor: sensor, bucket: WaveformSummary.bucket(t, WaveformSummary.levels[0]))
            if key == openKey, open != nil {
                open!.n += 1
                open!.low = pointwiseMin(open!.low, values)
                open!.high = pointwiseMax(open!.high, values)
                return
            }
            flush()
            openKey = key
            open = Extremes(n: 1, low: values, high: values)
        }

        private mutating func flush() {
            guard let extremes = open else { return }
            finest[openKey, default: Extremes(n: 0, low: extremes.low, high: extremes.high)].merge(extremes)
            open = nil
        }

        /// Everything gathered, at every level, each level in key order; empties the accumulator.
        mutating func rows() -> [(level: Int, key: Key, extremes: Extremes)] {
            flush()
            var rows: [(level: Int, key: Key, extremes: Extremes)] = []
            var level = finest
            for (index, width) in WaveformSummary.levels.enumerated() where !level.isEmpty {
                if index > 0 {
                    var coarser: [Key: Extremes] = [:]
                    coarser.reserveCapacity(level.count / 4)
                    for (key, extremes) in level {
                        coarser[Key(sensor: key.sensor, bucket: WaveformSummary.bucket(key.bucket, width)), default: Extremes(n: 0, low: extremes.low, high: extremes.high)].merge(extremes)
                    }
                    level = coarser
                }
                for (key, e) in level.sorted(by: { ($0.key.sensor, $0.key.bucket) < ($1.key.sensor, $1.key.bucket) }) {
                    rows.append((index, key, e))
                }
            }
            finest = [:]
            return rows
        }

        /// Adds everything gathered to the stored summary, every level, in key order.
        mutating func write(_ db: Database) throws {
            let rows = rows()
            guard !rows.isEmpty else { return }
            let statement = try db.cachedStatement(sql: WaveformSummary.upsertSQL)
            let stmt = statement.sqliteStatement
            // Bound and stepped through the C API, as the samples are: no allocation per row.
            for (index, key, e) in rows {
                sqlite3_bind_int64(stmt, 1, key.sensor)
                sqlite3_bind_int64(stmt, 2, Int64(index))
                sqlite3_bind_int64(stmt, 3, key.bucket)
                sqlite3_bind_int64(stmt, 4, e.n)
                for c in 0..<4 {
                    sqlite3_bind_double(stmt, Int32(5 + 2 * c), e.low[c])
                    sqlite3_bind_double(stmt, Int32(6 + 2 * c), e.high[c])
                }
                let code = sqlite3_step(stmt)
                sqlite3_reset(stmt)
                guard code == SQLITE_DONE else { throw SQLiteStore.stepError(code, db, sql: WaveformSummary.upsertSQL) }
            }
        }
    }
}
